import { createHash } from 'node:crypto';
import { appendFile, open, mkdir, readFile, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from '../errors.js';
import type { Digest } from '../oci/index.js';
import type { Journal } from './types.js';

/** A step the journal records: `kind repository id`, the id a digest, or `tag@digest` for a tag. */
export interface JournalStep {
  readonly kind: 'blob' | 'manifest' | 'tag';
  readonly repository: string;
  readonly digest: Digest;
  readonly tag?: string;
}

/** The key of a blob or manifest step (executeCopy writes them, journal-check.ts reads them back). */
export function journalKey(kind: 'blob' | 'manifest', repository: string, digest: Digest): string {
  return `${kind} ${repository} ${digest}`;
}

export function tagJournalKey(repository: string, tag: string, digest: Digest): string {
  return `tag ${repository} ${tag}@${digest}`;
}

/** A key back into its step; undefined for what is not one. */
export function parseJournalKey(key: string): JournalStep | undefined {
  const [kind, repository, id, ...rest] = key.split(' ');
  if (!repository || !id || rest.length > 0) return undefined;
  if (kind === 'blob' || kind === 'manifest') return { kind, repository, digest: id as Digest };
  if (kind === 'tag') {
    const at = id.lastIndexOf('@');
    if (at <= 0) return undefined;
    return { kind, repository, tag: id.slice(0, at), digest: id.slice(at + 1) as Digest };
  }
  return undefined;
}

/**
 * The import journal: one JSON line per finished step (blob pushed or mounted, manifest pushed,
 * tag set) for one bundle into one target. A re-run after a kill trusts these lines and does not
 * ask the registry again; a torn last line is ignored. Every step it records is idempotent, so a
 * step done but not yet recorded is simply done again.
 *
 * It is a hint, not the truth: the registry may have lost what it records since (wiped, restored
 * from an older backup, garbage-collected, reinstalled at the same host:port, a repository
 * deleted). Import checks a sample of its claims before trusting it, and a registry that refuses
 * a push for want of something the journal claimed makes import forget it all (reset) and check
 * everything again (journal-check.ts).
 */
export class FileJournal implements Journal {
  readonly path: string;
  readonly #done = new Set<string>();
  #fh: FileHandle | undefined;
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  static async open(stateDir: string, bundleId: string, target: string): Promise<FileJournal> {
    const dir = join(stateDir, 'imports', bundleId.replace(/^sha256:/, '').slice(0, 32));
    const name = `${createHash('sha256').update(target).digest('hex').slice(0, 16)}.jsonl`;
    const j = new FileJournal(join(dir, name));
    try {
      await mkdir(dir, { recursive: true });
      const text = await readFile(j.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return '';
        throw err;
      });
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as { key?: unknown; forget?: unknown };
          if (typeof rec.key !== 'string') continue;
          if (rec.forget === true) j.#done.delete(rec.key);
          else j.#done.add(rec.key);
        } catch {
          // a line torn by a kill: the step it described is done again
        }
      }
      j.#fh = await open(j.path, 'a', 0o600);
    } catch (err) {
      throw ioError(err, 'open the import journal in', dir);
    }
    return j;
  }

  get size(): number {
    return this.#done.size;
  }

  has(key: string): boolean {
    return this.#done.has(key);
  }

  /** Every step recorded, as `kind repository id` keys (journalKey, tagJournalKey). */
  keys(): IterableIterator<string> {
    return this.#done.values();
  }

  /** Forget every step: the target no longer holds what was recorded. The file is emptied too. */
  reset(): Promise<void> {
    this.#done.clear();
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#fh?.truncate(0);
      } catch (err) {
        throw ioError(err, 'empty the import journal', this.path);
      }
    });
    return this.#chain;
  }

  record(key: string, fields: Record<string, unknown> = {}): Promise<void> {
    this.#done.add(key);
    const line = `${JSON.stringify({ key, time: new Date().toISOString(), ...fields })}\n`;
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#fh?.write(line);
      } catch (err) {
        throw ioError(err, 'write the import journal', this.path);
      }
    });
    return this.#chain;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#fh?.close();
    this.#fh = undefined;
  }
}

/**
 * Make every import journal under `stateDir` forget the steps `match` selects (a line
 * `{ key, forget: true }` after them), so that a re-import asks the registry again instead of
 * trusting them: what `site rollback` (a tag moved back) and `site prune` (manifests deleted,
 * blobs left to garbage collection) changed behind the journals' backs. Returns how many steps.
 */
export async function forgetInJournals(stateDir: string, match: (key: string) => boolean): Promise<number> {
  const root = join(stateDir, 'imports');
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw ioError(err, 'read', root);
  }
  let forgotten = 0;
  for (const d of dirs) {
    const files = await readdir(join(root, d)).catch(() => [] as string[]);
    for (const f of files.filter((n) => n.endsWith('.jsonl'))) {
      const path = join(root, d, f);
      const text = await readFile(path, 'utf8').catch(() => '');
      const done = new Set<string>();
      for (const line of text.split('\n')) {
        try {
          const rec = JSON.parse(line) as { key?: unknown; forget?: unknown };
          if (typeof rec.key !== 'string') continue;
          if (rec.forget === true) done.delete(rec.key);
          else done.add(rec.key);
        } catch {
          // empty or torn line
        }
      }
      const keys = [...done].filter(match);
      if (keys.length === 0) continue;
      const time = new Date().toISOString();
      try {
        await appendFile(path, keys.map((key) => `${JSON.stringify({ key, forget: true, time })}\n`).join(''));
      } catch (err) {
        throw ioError(err, 'write the import journal', path);
      }
      forgotten += keys.length;
    }
  }
  return forgotten;
}
