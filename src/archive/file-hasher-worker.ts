// Worker side of FileHasher (file-hasher.ts): hashes a file as far as the main thread says it is
// written, reading it back in 4 MiB steps (from the page cache: it was written moments ago).
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { FileHasherReply, FileHasherRequest } from './file-hasher.js';

const port = parentPort!;
const { path } = workerData as { path: string };
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(4 << 20);
let fd: number | undefined;
let hashed = 0;
let failed = false;

function hashTo(upTo: number): void {
  fd ??= openSync(path, 'r');
  while (hashed < upTo) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, upTo - hashed), hashed);
    if (n === 0) throw Object.assign(new Error(`${path} ends at ${hashed} bytes, before the ${upTo} written`), { code: 'EIO' });
    hash.update(buf.subarray(0, n));
    hashed += n;
  }
}

port.on('message', (m: FileHasherRequest) => {
  if (failed) return;
  try {
    if ('upTo' in m) {
      hashTo(m.upTo);
      return;
    }
    hashTo(m.end);
    if (fd !== undefined) closeSync(fd);
    port.postMessage({ hex: hash.digest('hex') } satisfies FileHasherReply);
  } catch (err) {
    failed = true;
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ error: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) } satisfies FileHasherReply);
  }
});
