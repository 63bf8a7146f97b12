// Worker side of createZstdFileStream (zstd-file.ts): reads a .tar.zst file and decompresses it
// off the main thread, into slabs the main thread lends it, and hands each filled slab back by
// transfer (no copy). It produces only into lent slabs, so a decompression bomb cannot fill memory.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import binding from 'zstd-napi/binding.js';
import type { ZstdWorkerData, ZstdWorkerMessage } from './zstd-file.js';

const data = workerData as ZstdWorkerData;
const port = parentPort!;
const post = (m: ZstdWorkerMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

const dctx = new binding.DCtx();
dctx.setParameter(binding.DParameter.windowLogMax, data.maxWindowLog);
const input = Buffer.allocUnsafe(data.inSize);
let fd: number | undefined;
let pending = input.subarray(0, 0);
let bytesRead = 0;
let eof = false;
let inFrame = false;
/** Empty slabs granted by the main thread: output is produced only into these. */
const slabs: ArrayBuffer[] = [];
let done = false;

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

/** One output slab, filled as far as the input allows, posted; then the end or the failure. */
function fillSlab(): void {
  const out = slabs.shift()!;
  const dst = new Uint8Array(out);
  let used = 0;
  while (used < dst.length) {
    if (pending.length === 0 && !eof) {
      let n: number;
      try {
        n = readSync(fd!, input, 0, input.length, null);
      } catch (err) {
        fail(err, 'io');
        return;
      }
      bytesRead += n;
      if (n === 0) eof = true;
      pending = input.subarray(0, n);
    }
    if (pending.length === 0 && eof) break;
    const [ret, produced, consumed] = dctx.decompressStream(dst.subarray(used), pending);
    pending = pending.subarray(consumed);
    // A call that neither consumed nor produced reports the next frame's header size: only
    // calls that did work say whether we are inside a frame.
    if (consumed > 0 || produced > 0) inFrame = ret !== 0;
    used += produced;
    // Input and room but no progress: never seen, but it would spin forever; treat it as damage.
    if (consumed === 0 && produced === 0) throw new Error('the decoder made no progress');
  }
  if (used > 0) post({ type: 'data', buf: out, length: used, bytesRead }, [out]);
  else slabs.unshift(out);
  if (pending.length === 0 && eof) {
    if (inFrame) finish({ type: 'error', kind: 'truncated', message: 'the zstd stream is truncated: it ends inside a frame' });
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
