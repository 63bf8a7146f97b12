import { mkdir, readFile, readdir } from 'node:fs/promises';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError, ioError } from '../errors.js';
import { writeFileAtomic } from '../util/index.js';
import type { Digest } from '../oci/index.js';
import { parseReceipt, type Receipt, type TagMove } from './receipt.js';
import type { AuditEntry } from './audit.js';

/**
 * What a site keeps about its imports, under the import's `--state-dir` (`site/`):
 * - `imports.jsonl`: one line per import that finished or failed (ImportRecord);
 * - `receipts/<time>-<bundle>.json`: a copy of every receipt an import wrote (its out-dir may be
 *   another each night); `site prune` and `site rollback` read these;
 * - `audit.jsonl`: every push, tag move, history tag, rollback and delete, each line naming its
 *   registry (the import's out-dir keeps its own audit.jsonl too).
 */
export interface ImportRecord {
  readonly version: 1;
  readonly kind: 'airlock-import';
  readonly result: 'ok' | 'error';
  readonly started: string;
  readonly finished: string;
  readonly target: string;
  readonly bundleId?: Digest;
  readonly bundleCreated?: string;
  readonly signer?: string;
  /** All volumes in: every artifact tagged. */
  readonly complete?: boolean;
  readonly artifacts?: number;
  readonly blobsPushed?: number;
  readonly bytesPushed?: number;
  readonly tagsSet?: number;
  readonly tagsMoved?: number;
  /** The receipt's copy, relative to `site/`. */
  readonly receipt?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface SiteReceipt {
  readonly file: string;
  readonly receipt: Receipt;
}

export class SiteState {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'site');
  }
  get importsPath(): string {
    return join(this.dir, 'imports.jsonl');
  }
  get auditPath(): string {
    return join(this.dir, 'audit.jsonl');
  }
  get receiptsDir(): string {
    return join(this.dir, 'receipts');
  }

  /** Keep a copy of the receipt (temporary name, then rename); returns its name relative to `site/`. */
  async saveReceipt(receipt: Receipt, bytes: string): Promise<string> {
    const stamp = receipt.finished.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const name = `${stamp}-${receipt.bundleId.slice(7, 19)}.json`;
    try {
      await mkdir(this.receiptsDir, { recursive: true });
    } catch (err) {
      throw ioError(err, 'create', this.receiptsDir);
    }
    await writeFileAtomic(join(this.receiptsDir, name), bytes, 0o640);
    return `receipts/${name}`;
  }

  async recordImport(rec: ImportRecord): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      await appendFile(this.importsPath, `${JSON.stringify(rec)}\n`, { mode: 0o640 });
    } catch (err) {
      throw ioError(err, 'append to', this.importsPath);
    }
  }

  /** Every import record, oldest first; a line torn by a kill is skipped. */
  async imports(): Promise<ImportRecord[]> {
    return (await readLines(this.importsPath)).filter((r): r is ImportRecord => (r as Partial<ImportRecord>).kind === 'airlock-import');
  }

  async audit(): Promise<(AuditEntry & { time: string })[]> {
    return (await readLines(this.auditPath)) as (AuditEntry & { time: string })[];
  }

  /** Every kept receipt, oldest first (by its finish time). */
  async receipts(): Promise<SiteReceipt[]> {
    let names: string[];
    try {
      names = (await readdir(this.receiptsDir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError(err, 'read', this.receiptsDir);
    }
    const out: SiteReceipt[] = [];
    for (const n of names) {
      const path = join(this.receiptsDir, n);
      const raw = await readFile(path).catch((err: unknown) => {
        throw ioError(err, 'read', path);
      });
      out.push({ file: `receipts/${n}`, receipt: parseReceipt(raw, path) });
    }
    return out.sort((a, b) => a.receipt.finished.localeCompare(b.receipt.finished) || a.file.localeCompare(b.file));
  }

  /** The state dir must exist and hold at least one import record for status, rollback and prune. */
  async requireImports(): Promise<ImportRecord[]> {
    const recs = await this.imports();
    if (recs.length === 0) {
      throw new AirlockError('NOT_FOUND', 'no import is recorded in this state directory', {
        where: this.dir,
        hint: 'pass the --state-dir that `airlock bundle import` used (default $XDG_STATE_HOME/airlock)',
      });
    }
    return recs;
  }
}

/** Tag moves recorded for one repository and tag, oldest first (imports and rollbacks). */
export function tagMovesOf(entries: readonly (AuditEntry & { time: string })[], registry: string, repository: string, tag: string): (TagMove & { action: string; time: string })[] {
  return entries
    .filter((e) => (e.action === 'tag' || e.action === 'rollback') && e.registry === registry && e.repository === repository && e.tag === tag && e.previous && e.digest && e.result === 'ok')
    .map((e) => ({ repository, tag, previous: e.previous as Digest, digest: e.digest as Digest, ...(e.historyTag ? { historyTag: e.historyTag } : {}), action: e.action, time: e.time }));
}

/**
 * The newest tag move an import made onto `digest` (what a rollback undoes), from the audit log and
 * from the kept receipts (the audit log may have been rotated away); undefined when none is recorded.
 */
export async function lastImportMoveOnto(
  site: SiteState, registry: string, repository: string, tag: string, digest: Digest,
): Promise<(TagMove & { time: string; historyTag?: string }) | undefined> {
  const fromAudit = tagMovesOf(await site.audit(), registry, repository, tag).filter((m) => m.action === 'tag');
  const fromReceipts = (await site.receipts())
    .filter(({ receipt }) => receipt.target === registry || receipt.target.startsWith(`${registry}/`))
    .flatMap(({ receipt }) => (receipt.tagMoves ?? []).filter((m) => m.repository === repository && m.tag === tag).map((m) => ({ ...m, time: receipt.finished })));
  const moves = [...fromAudit, ...fromReceipts].filter((m) => m.digest === digest).sort((x, y) => x.time.localeCompare(y.time));
  return moves.at(-1);
}

async function readLines(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(err, 'read', path);
  }
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // torn by a kill
    }
  }
  return out;
}
