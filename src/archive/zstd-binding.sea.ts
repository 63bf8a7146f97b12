/**
 * zstd-napi's native binding inside the single executable (scripts/release.ts resolves
 * `zstd-napi/binding.js` to this file there; the other builds load it from node_modules).
 *
 * A native addon can only be loaded from a file: Node's `process.dlopen` takes a path. The
 * executable carries the addon as an SEA asset. On first use, the main thread writes it into a
 * new private directory (mkdtemp: mode 0700, a name nobody can guess), opens it read-only, and
 * removes the file and the directory at once; what it loads is that open file, through
 * `/proc/self/fd/<fd>`, after checking its sha256 through the same descriptor against the digest
 * the build recorded. So the bytes checked are the bytes loaded, nothing is left on disk even
 * after a kill -9 (a few microseconds after mkdtemp aside), and no other user can reach the file
 * at any moment (SECURITY.md "The single executable"). Worker threads load the same open file:
 * worker-start.sea.ts hands them its path. The addon is only needed for `.tar.zst`: a `.tar` or
 * a bundle directory never writes it.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRawAsset } from 'node:sea';
import { isMainThread } from 'node:worker_threads';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { AirlockError } from '../errors.js';

/** Set by the single executable's build (esbuild `define`): the asset's name and sha256 hex. */
declare const AIRLOCK_SEA_ZSTD_ASSET: string;
declare const AIRLOCK_SEA_ZSTD_SHA256: string;

type Binding = typeof ZstdBinding;

/** Where worker threads find the path of the addon the main thread opened. */
export const ZSTD_ADDON_GLOBAL = 'airlock.zstd-addon';

let opened: string | undefined;
let loaded: Binding | undefined;

/** The main thread's open copy of the addon, as a path any thread of this process can load. */
export function zstdAddonPath(): string {
  if (opened !== undefined) return opened;
  if (!isMainThread) {
    const path = (globalThis as Record<symbol, unknown>)[Symbol.for(ZSTD_ADDON_GLOBAL)];
    if (typeof path !== 'string') throw new AirlockError('INTERNAL', 'this worker was started without the zstd addon');
    return (opened = path);
  }
  return (opened = writePrivateCopy());
}

function writePrivateCopy(): string {
  const bytes = new Uint8Array(getRawAsset(AIRLOCK_SEA_ZSTD_ASSET) as ArrayBuffer);
  const base = tmpdir();
  let dir: string;
  try {
    dir = mkdtempSync(join(base, 'airlock-zstd-'));
  } catch (err) {
    throw new AirlockError('IO', `cannot make a private directory for the zstd addon under ${base}`, {
      cause: err, where: base, hint: 'set TMPDIR to a writable directory (zstd is needed for .tar.zst bundles only)',
    });
  }
  const file = join(dir, 'zstd-napi.node');
  let readFd: number;
  try {
    const writeFd = openSync(file, 'wx', 0o500);
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(writeFd, bytes, off, bytes.length - off);
    } finally {
      closeSync(writeFd);
    }
    readFd = openSync(file, 'r');
  } catch (err) {
    throw new AirlockError('IO', `cannot write the zstd addon under ${base}`, {
      cause: err, where: base, hint: 'free some space or set TMPDIR to another directory (zstd is needed for .tar.zst bundles only)',
    });
  } finally {
    try {
      unlinkSync(file);
    } catch {
      // never written: nothing to remove
    }
    rmdirSync(dir);
  }
  const digest = sha256Of(readFd);
  if (digest !== AIRLOCK_SEA_ZSTD_SHA256) {
    closeSync(readFd);
    throw new AirlockError('DIGEST_MISMATCH', `the zstd addon written under ${base} reads back as sha256:${digest}, not the sha256:${AIRLOCK_SEA_ZSTD_SHA256} this executable was built with`, {
      where: base, hint: 'something changed the file between writing and loading it: check the temporary directory, or set TMPDIR to a private one',
    });
  }
  // The descriptor stays open for the life of the process: worker threads load it too.
  return `/proc/self/fd/${readFd}`;
}

function sha256Of(fd: number): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 16);
  for (let pos = 0; ;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest('hex');
}

function load(): Binding {
  if (loaded) return loaded;
  const path = zstdAddonPath();
  const module = { exports: {} as Binding };
  try {
    process.dlopen(module, path);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new AirlockError('IO', `cannot load the zstd addon written under ${tmpdir()}: ${message}`, {
      cause: err, where: tmpdir(),
      hint: /GLIBC|version `/.test(message)
        ? 'this system\'s C library is older than the one the addon was built against: build the release on an older system, or use .tar or directory bundles (they need no zstd)'
        : 'the directory may be on a filesystem mounted noexec: set TMPDIR to one where programs may run (zstd is needed for .tar.zst bundles only)',
    });
  }
  return (loaded = module.exports);
}

/**
 * The addon, loaded in this (main) thread, as a path worker threads can load too. Loading it here
 * first means a load that cannot work (TMPDIR mounted noexec, an older C library) fails here, as
 * a coded error, rather than in a worker.
 */
export function loadedZstdAddonPath(): string {
  load();
  return zstdAddonPath();
}

/** zstd-napi's binding, loaded on first use: a command that reads no .tar.zst never writes the file. */
const binding: Binding = new Proxy({} as Binding, {
  get: (_t, key) => Reflect.get(load(), key),
  has: (_t, key) => Reflect.has(load(), key),
});
export default binding;
