// Worker side of createZstdFileStream (zstd-file.ts): reads a .tar.zst file and decompresses it
// off the main thread, into slabs the main thread lends it, and hands each filled slab back by
// transfer (no copy). It produces only into lent slabs, so a decompression bomb cannot fill memory.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import binding from 'zstd-napi/binding.js';
import type { ZstdWorkerData, ZstdWorkerMessage } from './zstd-file.js';
import { RAW_BLOCK_MAX, RAW_FRAME_HEADER } from './zstd.js';

const data = workerData as ZstdWorkerData;
const port = parentPort!;
const post = (m: ZstdWorkerMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

const dctx = new binding.DCtx();
dctx.setParameter(binding.DParameter.windowLogMax, data.maxWindowLog);
const input = Buffer.allocUnsafe(data.inSize);
let fd: number | undefined;
/** Unconsumed input: the bytes of the file just before `filePos`. */
let pending = input.subarray(0, 0);
/** File offset of the next byte to read. */
let filePos = 0;
let bytesRead = 0;
let eof = false;
let inFrame = false;
/**
 * Inside one of the raw frames the bundle writer makes for stored layers (RAW_FRAME_HEADER, then
 * raw blocks): their payload is read from the file straight into the slab, one copy instead of
 * a read and the decoder's copy. Any other frame goes to zstd, and so does this one should a
 * non-raw block turn up in it (decoded again from its start; the bytes already given are skipped).
 */
let raw: { blockLeft: number; last: boolean; readonly frameStart: number; frameOut: number } | undefined;
/** Decoder output still to be dropped after such a restart. */
let skipOut = 0;
/** Empty slabs granted by the main thread: output is produced only into these. */
const slabs: ArrayBuffer[] = [];
let done = false;

class Damaged extends Error {}

function finish(m: ZstdWorkerMessage): void {
  done = true;
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
  post(m);
}

function fail(err: unknown, kind: 'io' | 'zstd'): void {
  const e = err as NodeJS.ErrnoException;
  finish({ type: 'error', kind, message: e instanceof Error ? e.message : String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) });
}

function readAt(buf: Uint8Array, offset: number, length: number): number {
  const n = readSync(fd!, buf, offset, length, filePos);
  filePos += n;
  bytesRead = Math.max(bytesRead, filePos);
  if (n === 0) eof = true;
  return n;
}

/** At least `k` bytes in `pending`, unless the file ends first. */
function need(k: number): boolean {
  while (pending.length < k && !eof) {
    const start = pending.byteOffset - input.byteOffset;
    if (start > 0 && pending.length > 0) input.copy(input, 0, start, start + pending.length);
    const have = pending.length;
    const n = readAt(input, have, input.length - have);
    pending = input.subarray(0, have + n);
  }
  return pending.length >= k;
}

/** One output slab, filled as far as the input allows, posted; then the end or the failure. */
function fillSlab(): void {
  const out = slabs.shift()!;
  const dst = new Uint8Array(out);
  let used = 0;
  let truncated = false;
  while (used < dst.length) {
    if (raw) {
      if (raw.blockLeft === 0) {
        if (raw.last) {
          raw = undefined;
          inFrame = false;
          continue;
        }
        if (!need(3)) {
          truncated = true;
          break;
        }
        const h = pending[0]! | (pending[1]! << 8) | (pending[2]! << 16);
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        if (type !== 0) {
          // Not a raw block: let zstd decode this frame from its start.
          skipOut = raw.frameOut;
          filePos = raw.frameStart;
          pending = input.subarray(0, 0);
          eof = false;
          raw = undefined;
          dctx.reset(binding.ResetDirective.sessionOnly);
          continue;
        }
        if (size > RAW_BLOCK_MAX) throw new Damaged(`a raw block of ${size} bytes is larger than its frame's window allows`);
        pending = pending.subarray(3);
        raw.blockLeft = size;
        raw.last = (h & 1) === 1;
        continue;
      }
      const k = Math.min(raw.blockLeft, dst.length - used);
      let n: number;
      if (pending.length > 0) {
        n = Math.min(k, pending.length);
        dst.set(pending.subarray(0, n), used);
        pending = pending.subarray(n);
      } else {
        n = readAt(dst, used, k);
        if (n === 0) {
          truncated = true;
          break;
        }
      }
      used += n;
      raw.blockLeft -= n;
      raw.frameOut += n;
      continue;
    }
    if (!inFrame && skipOut === 0) {
      // Between frames: one of the writer's raw frames?
      if (need(RAW_FRAME_HEADER.length) && pending.subarray(0, RAW_FRAME_HEADER.length).equals(RAW_FRAME_HEADER)) {
        raw = { blockLeft: 0, last: false, frameStart: filePos - pending.length, frameOut: 0 };
        pending = pending.subarray(RAW_FRAME_HEADER.length);
        inFrame = true;
        continue;
      }
    }
    if (pending.length === 0 && !eof) need(1);
    if (pending.length === 0 && eof) break;
    const [ret, produced, consumed] = dctx.decompressStream(dst.subarray(used), pending);
    pending = pending.subarray(consumed);
    // A call that neither consumed nor produced reports the next frame's header size: only
    // calls that did work say whether we are inside a frame.
    if (consumed > 0 || produced > 0) inFrame = ret !== 0;
    const dropped = Math.min(skipOut, produced);
    if (dropped > 0) {
      dst.copyWithin(used, used + dropped, used + produced);
      skipOut -= dropped;
    }
    used += produced - dropped;
    // Input and room but no progress: never seen, but it would spin forever; treat it as damage.
    if (consumed === 0 && produced === 0) throw new Damaged('the decoder made no progress');
  }
  if (used > 0) post({ type: 'data', buf: out, length: used, bytesRead }, [out]);
  else slabs.unshift(out);
  if (truncated || (pending.length === 0 && eof)) {
    if (truncated || inFrame || raw) finish({ type: 'error', kind: 'truncated', message: 'the zstd stream is truncated: it ends inside a frame' });
    else finish({ type: 'end', bytesRead });
  }
}

function pump(): void {
  try {
    if (fd === undefined) fd = openSync(data.path, 'r');
  } catch (err) {
    fail(err, 'io');
    return;
  }
  while (slabs.length > 0 && !done) {
    try {
      fillSlab();
    } catch (err) {
      fail(err, 'zstd');
    }
  }
}

port.on('message', (m: { slabs: ArrayBuffer[] }) => {
  if (done) return;
  slabs.push(...m.slabs);
  pump();
});
