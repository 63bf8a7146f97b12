import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ioError } from '../errors.js';

export interface AuditEntry {
  readonly action:
    | 'push' | 'mount' | 'skip' | 'push-manifest' | 'tag' | 'fail' | 'start' | 'finish'
    /** The target lacked what an earlier run had pushed; the journal was set aside and everything checked again. */
    | 'recheck'
    /** `--keep-previous-tags`: the digest a tag left, kept under a history tag. */
    | 'history-tag'
    /** `airlock site rollback`: a tag re-pointed at an earlier digest. */
    | 'rollback'
    /** `airlock site prune --apply`: a manifest deleted through the registry API. */
    | 'delete';
  /** The target registry host (site audit log: every line names where it happened). */
  readonly registry?: string;
  readonly repository?: string;
  readonly digest?: string;
  readonly tag?: string;
  /** A tag move: the digest the tag pointed at before. */
  readonly previous?: string;
  /** A tag move with --keep-previous-tags: the tag that still points at `previous`. */
  readonly historyTag?: string;
  readonly bundleId?: string;
  readonly result: 'ok' | 'exists' | 'error';
  readonly detail?: string;
}

/**
 * Append-only JSON lines: time, action, repository, digest, tag, result. One log can go to several
 * files (the import's out-dir and the site's state dir), with fields every line carries.
 */
export class AuditLog {
  readonly path: string;
  readonly #paths: readonly string[];
  readonly #base: Partial<AuditEntry>;
  #ready: Promise<void> | undefined;
  #chain: Promise<void> = Promise.resolve();
  /** Lines not yet appended, oldest first. */
  #pending: string[] = [];
  constructor(path: string | readonly string[], base: Partial<AuditEntry> = {}) {
    this.#paths = typeof path === 'string' ? [path] : path;
    this.path = this.#paths[0]!;
    this.#base = base;
  }
  write(entry: AuditEntry): Promise<void> {
    this.#ready ??= Promise.all(this.#paths.map(async (p) => {
      try {
        await mkdir(dirname(p), { recursive: true });
      } catch (err) {
        throw ioError(err, 'create the audit log directory', dirname(p));
      }
    })).then(() => {});
    this.#pending.push(`${JSON.stringify({ time: new Date().toISOString(), ...this.#base, ...entry })}\n`);
    this.#chain = this.#chain.then(() => this.#ready!).then(async () => {
      // Lines written while an append was under way go out together, in order, with one append
      // per file (an import writes a line per artifact at once: one open-write-close per line
      // and file was most of a no-op re-import's file system calls). This line may already have
      // gone out with an earlier one; either way it is in the files when this promise resolves.
      if (this.#pending.length === 0) return;
      const lines = this.#pending.join('');
      this.#pending = [];
      for (const p of this.#paths) {
        try {
          await appendFile(p, lines, { mode: 0o640 });
        } catch (err) {
          // A full disk or a read-only state dir is the site's to fix: an IO error naming the file.
          throw ioError(err, 'append to the audit log', p);
        }
      }
    });
    return this.#chain;
  }
  flush(): Promise<void> {
    return this.#chain;
  }
}
