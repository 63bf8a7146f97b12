// Worker side of RangeHasherPool (range-hasher.ts): hashes the bytes of file ranges where they
// lie, with positional reads into one reused buffer small enough to stay in this core's cache
// (256 KiB), so the bytes are hashed warm and never cross threads: only the ranges come in and
// the digest goes out.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { RangeHasherReply, RangeHasherRequest } from './range-hasher.js';
import { blockHeaderProblem, nextSpan, type RangeCursor } from './range-span.js';

const port = parentPort!;
const BUFFER = 256 << 10;
/** A progress message at most every this many bytes. */
const PROGRESS_STEP = 32 << 20;
const buf = Buffer.allocUnsafe(BUFFER);
let open: { path: string; fd: number } | undefined;

function fdOf(path: string): number {
  if (open?.path === path) return open.fd;
  if (open) closeSync(open.fd);
  open = undefined;
  open = { path, fd: openSync(path, 'r') };
  return open.fd;
}

function readFull(fd: number, n: number, pos: number, path: string): void {
  let got = 0;
  while (got < n) {
    const k = readSync(fd, buf, got, n - got, pos + got);
    if (k === 0) throw Object.assign(new Error(`${path} ends at byte ${pos + got}, inside the entry (changed or truncated since it was indexed)`), { code: 'ETRUNC' });
    got += k;
  }
}

function hashRanges(m: RangeHasherRequest): void {
  const fd = fdOf(m.path);
  const hash = createHash('sha256');
  let bytes = 0;
  let reported = 0;
  let at: RangeCursor = { i: 0, done: 0 };
  while (at.i < m.ranges.length) {
    // One read: as many whole or partial ranges (and the small gaps between them) as fit.
    const span = nextSpan(m.ranges, at, { maxLength: BUFFER });
    readFull(fd, span.length, span.start, m.path);
    let o = 0;
    for (const p of span.parts) {
      if (p.rawBlock !== undefined) {
        // A raw block header the index predicted (FileRange.rawBlock): checked before its block is hashed.
        const problem = blockHeaderProblem(buf.subarray(o, o + p.len), p.rawBlock, span.start + o);
        if (problem) throw Object.assign(new Error(problem), { code: 'EBLOCKHEADER' });
      }
      if (!p.gap) hash.update(buf.subarray(o, o + p.len));
      o += p.len;
    }
    bytes += span.data;
    at = span.next;
    if (bytes - reported >= PROGRESS_STEP) {
      port.postMessage({ id: m.id, progress: bytes - reported } satisfies RangeHasherReply);
      reported = bytes;
    }
  }
  if (bytes > reported) port.postMessage({ id: m.id, progress: bytes - reported } satisfies RangeHasherReply);
  port.postMessage({ id: m.id, hex: hash.digest('hex'), bytes } satisfies RangeHasherReply);
}

port.on('message', (m: RangeHasherRequest) => {
  try {
    hashRanges(m);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ id: m.id, error: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) } satisfies RangeHasherReply);
  }
});
