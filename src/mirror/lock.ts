import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { AirlockError, ioError, MultiError } from '../errors.js';
import { isDigest } from '../oci/index.js';
import { writeFileAtomic } from '../util/index.js';
import type { LockEntry, LockFile } from './types.js';

/**
 * The lock file of `--lock FILE` / `--locked`: which digest each selected tag resolved to.
 *
 * ```json
 * { "version": 1, "entries": [ { "source": "docker.io/library/nginx:1.27", "digest": "sha256:…" } ] }
 * ```
 * Entries are sorted by source so that the file diffs well under version control.
 */
export function createLockFile(resolved: ReadonlyMap<string, string>): LockFile {
  const entries = [...resolved].map(([source, digest]) => ({ source, digest }));
  entries.sort((a, b) => compareStrings(a.source, b.source));
  return { version: 1, entries };
}

export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const entries = [...lock.entries].sort((a, b) => compareStrings(a.source, b.source)).map((e) => ({ source: e.source, digest: e.digest }));
  await writeFileAtomic(path, `${JSON.stringify({ version: 1, entries }, null, 2)}\n`);
}

export async function readLockFile(path: string): Promise<LockFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw ioError(err, 'read lock file', path);
  }
  return parseLockFile(text, path);
}

/** Validate a lock file's text; every problem is reported (MIRROR_INVALID, exit 2). */
export function parseLockFile(text: string, path: string): LockFile {
  const hint = 'the lock file is written by `airlock bundle export --lock FILE`; delete it and export again with --lock to recreate it';
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new AirlockError('MIRROR_INVALID', `lock file ${path} is not valid JSON`, { where: jsonWhere(text, path, err), hint, cause: err });
  }
  const problems: AirlockError[] = [];
  const problem = (message: string, where = path): void => {
    problems.push(new AirlockError('MIRROR_INVALID', message, { where, hint }));
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new AirlockError('MIRROR_INVALID', `lock file ${path} is not a JSON object`, { where: path, hint });
  }
  const obj = data as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (key !== 'version' && key !== 'entries') problem(`unknown key \`${key}\` in the lock file`);
  if (obj['version'] !== 1) problem(`unsupported lock file version ${JSON.stringify(obj['version'])}: this airlock reads version 1`);
  const entries: LockEntry[] = [];
  if (!Array.isArray(obj['entries'])) {
    problem('the lock file has no `entries` list');
  } else {
    const seen = new Map<string, string>();
    obj['entries'].forEach((e: unknown, i) => {
      const at = `${path}: entries[${i}]`;
      if (typeof e !== 'object' || e === null || Array.isArray(e)) return problem('an entry must be an object { source, digest }', at);
      const { source, digest, ...extra } = e as Record<string, unknown>;
      for (const key of Object.keys(extra)) problem(`unknown key \`${key}\` in a lock entry`, at);
      if (typeof source !== 'string' || source.length === 0) return problem('`source` must be a non-empty string', at);
      if (!isDigest(digest)) return problem(`\`digest\` of ${source} must be sha256: followed by 64 lowercase hex characters`, at);
      const earlier = seen.get(source);
      if (earlier !== undefined) return problem(`\`${source}\` is listed twice`, at);
      seen.set(source, digest);
      entries.push({ source, digest });
    });
  }
  if (problems.length > 0) {
    throw new MultiError('MIRROR_INVALID', `invalid lock file ${path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, problems, { where: path, hint });
  }
  entries.sort((a, b) => compareStrings(a.source, b.source));
  return { version: 1, entries };
}

/**
 * `--locked`: every difference between the lock and what was resolved now, one LOCK_MISMATCH
 * each (sorted by source): a digest that moved, a source the lock does not have, a locked
 * source no longer selected. Empty: the export may proceed.
 */
export function compareLock(lock: LockFile, resolved: ReadonlyMap<string, string>): AirlockError[] {
  const locked = new Map(lock.entries.map((e) => [e.source, e.digest] as const));
  const out: { source: string; error: AirlockError }[] = [];
  const add = (source: string, message: string, hint: string): void => {
    out.push({ source, error: new AirlockError('LOCK_MISMATCH', message, { where: source, hint }) });
  };
  const update = 'run without --locked (with --lock FILE) to accept the change and rewrite the lock file';
  for (const [source, digest] of resolved) {
    const want = locked.get(source);
    if (want === undefined) add(source, `${source} is not in the lock file (resolved to ${digest})`, update);
    else if (want !== digest) add(source, `${source} moved: the lock file has ${want}, upstream now has ${digest}`, `pin ${source}@${want} in the mirror list to keep the old content, or ${update}`);
  }
  for (const [source, digest] of locked) {
    if (!resolved.has(source)) add(source, `${source} (${digest}) is in the lock file but no longer selected`, update);
  }
  return out.sort((a, b) => compareStrings(a.source, b.source)).map((x) => x.error);
}

/**
 * `file:line:col` of a JSON.parse failure. V8 names an offset only for some errors ("at position
 * N"); otherwise the yaml parser (JSON is YAML 1.2 flow syntax) locates the first error.
 */
function jsonWhere(text: string, path: string, err: unknown): string {
  const m = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
  const offset = m ? Math.min(Number(m[1]), text.length) : parseDocument(text, { prettyErrors: false }).errors[0]?.pos[0];
  if (offset === undefined) return path;
  const before = text.slice(0, offset);
  return `${path}:${before.split('\n').length}:${offset - before.lastIndexOf('\n')}`;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
