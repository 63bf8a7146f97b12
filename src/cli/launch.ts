/**
 * The node CLI's start (bin/airlock.js): the CLI is one CommonJS script (dist/cli/airlock.cjs,
 * scripts/bundle-cli.mjs), compiled through `vm.Script` with V8's code cache. Node 20 has neither
 * `module.enableCompileCache` nor cached data for ES modules, and a run spent much of its CPU
 * parsing and compiling code it had compiled the run before (docs/BENCHMARKS.md, "No-op
 * re-import, 2026-12-07 (afternoon)").
 *
 * The cache is V8's own (`script.createCachedData()`), one file per command (`bundle-import`,
 * `version`, …): written after the first successful run of that command, so it holds the
 * functions that command compiled, and read by every later run. It lives under
 * `$XDG_CACHE_HOME/airlock/v8/`, named by the script's sha256 (recorded by the build), node's
 * version and the architecture. Code cache is code: a file is used only when it is ours (owner,
 * not group- or world-writable), starts with our magic, and its payload has the sha256 its header
 * records (V8 itself checks only its version, its flags and the source's length). It is written to
 * a temporary name and renamed. Anything wrong (no home, a read-only disk, a damaged or foreign
 * file, a cache V8 refuses) means a run without the cache, never a failure.
 * `AIRLOCK_CODE_CACHE=off` turns it off, and a run with `--no-cache` neither reads nor writes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script, constants } from 'node:vm';

/** The sha256 of airlock.cjs, recorded by scripts/bundle-cli.mjs. */
declare const AIRLOCK_CLI_SHA256: string;

const MAGIC = Buffer.from('airlock v8 cache');
const HEADER = MAGIC.length + 32;
const MAX_CACHE = 64 * 1024 * 1024;
/** The command groups of src/cli/main.ts: a cache is kept per `group-command`. */
const GROUPS = new Set(['bundle', 'keys', 'registry', 'chart', 'site']);

/**
 * `bundle-import`, `version`, …; undefined for anything a cache should not be kept for: help and
 * `--version` (they would keep a cache of the help text's code under the command's name), and
 * `--no-cache`, which promises that nothing is kept under $XDG_CACHE_HOME (no code cache either:
 * none read, none written).
 */
export function commandKey(argv: readonly string[]): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '--no-cache' || a.startsWith('--no-cache='))) return undefined;
  const word = (s: string | undefined): s is string => s !== undefined && /^[a-z]{1,20}$/.test(s);
  const [a, b] = argv;
  if (!word(a)) return undefined;
  if (!GROUPS.has(a)) return a;
  return word(b) ? `${a}-${b}` : undefined;
}

function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'airlock', 'v8');
}

/**
 * The payload of a cache file that passes every check, else undefined. `scratch`, when given and
 * large enough, is the memory it is read into (the payload is then a view of it): launch() hands
 * it the buffer the script's source was read into, already copied into a string. On these
 * machines a page touched for the first time costs ~12 µs (a guest page fault), so reading the
 * 1.2 MB cache into memory the process already holds saves ~300 of them
 * (docs/BENCHMARKS.md, "No-op re-import, 2026-12-07 (evening)").
 */
export function readCache(path: string, scratch?: Buffer): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    if (st.size <= HEADER || st.size > MAX_CACHE) return undefined;
    const buf = scratch && scratch.length >= st.size ? scratch.subarray(0, st.size) : Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) return undefined;
      off += n;
    }
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const payload = buf.subarray(HEADER);
    const digest = createHash('sha256').update(payload).digest();
    return digest.equals(buf.subarray(MAGIC.length, HEADER)) ? payload : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Write `payload` as `path` (temporary name, then rename), and drop the caches of other builds. */
export function writeCache(path: string, payload: Buffer, keepPrefix: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([MAGIC, createHash('sha256').update(payload).digest(), payload]), { flag: 'wx', mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.v8') && !name.startsWith(keepPrefix)) rmSync(join(dir, name), { force: true });
  }
}

export function launch(): void {
  // No V8 flag is changed before this compile or left changed at exit: V8 accepts a code cache
  // only under the flags it was made with (src/registry/llhttp-tiering.ts).
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, 'airlock.cjs');
  // The script is already the function node wraps a CommonJS module in (scripts/bundle-cli.mjs):
  // compiled as read, with no copy of its 1.7 MB into a wrapped string.
  // Read as bytes, then copied into the string V8 compiles (latin1: one byte a character); the
  // bytes' buffer is free after that and takes the cache next.
  const bytes = readFileSync(file);
  const source = bytes.toString('latin1');
  const key = process.env.AIRLOCK_CODE_CACHE === 'off' ? undefined : commandKey(process.argv.slice(2));
  const build = AIRLOCK_CLI_SHA256.slice(0, 16);
  let path: string | undefined;
  try {
    if (key) path = join(cacheDir(), `${build}-${process.version}-${process.arch}-${key}.v8`);
  } catch {
    path = undefined; // no home directory
  }
  // (Only a buffer of its own: a small one may be a slice of node's shared pool.)
  const cachedData = path ? readCache(path, bytes.byteLength === bytes.buffer.byteLength ? bytes : undefined) : undefined;
  const script = new Script(source, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (path && (!cachedData || script.cachedDataRejected)) {
    const target = path;
    process.once('exit', (code) => {
      if (code !== 0) return;
      try {
        writeCache(target, script.createCachedData(), build);
      } catch {
        // a run without a cache next time too
      }
    });
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void).call(module.exports, module.exports, createRequire(file), module, file, here);
}
