import type { Readable } from 'node:stream';

/** Size of every pooled chunk. */
export const POOL_CHUNK = 1 << 20;
/** Free chunks kept: beyond this, released chunks are left to the garbage collector. */
const MAX_FREE = 16;
/**
 * A chunk is handed back only when this large: larger than any socket's write high-water mark
 * (16 KiB in Node 20, 64 KiB in 22), so undici waited for 'drain' after writing it.
 */
export const MIN_RELEASED = 256 * 1024;

const free: Buffer[] = [];
/** Pool buffers out in the world, each lent as exactly one chunk. */
const lent = new WeakSet<ArrayBuffer>();

/**
 * 1 MiB buffers for bundle reads that go on to a registry upload, reused instead of left to the
 * garbage collector. Measured on the large bundle: fresh 1 MiB buffers that pass through an
 * upload live long enough that V8 frees them only by mark-compact (~60 per import, ~20 % of the
 * client's CPU); reused, there are none of those.
 *
 * The one who takes a buffer lends it out as exactly one chunk (a view from its start). Only
 * {@link releasingChunks} hands it back, once the HTTP client is done with it; a chunk nobody
 * hands back is collected like any other buffer, so forgetting is safe, and only handing back
 * early is not.
 */
export function takeChunk(): Buffer {
  const b = free.pop() ?? Buffer.allocUnsafeSlow(POOL_CHUNK);
  lent.add(b.buffer as ArrayBuffer);
  return b;
}

function giveBack(chunk: Buffer): void {
  const ab = chunk.buffer as ArrayBuffer;
  if (!lent.has(ab) || chunk.length < MIN_RELEASED || chunk.byteOffset !== 0 || ab.byteLength !== POOL_CHUNK) return;
  lent.delete(ab);
  if (free.length < MAX_FREE) free.push(Buffer.from(ab, 0, POOL_CHUNK));
}

/**
 * The chunks of `body` for an HTTP request body sent by undici (as an async iterable, undici's
 * writeIterable). Asking for the next chunk is the signal that the previous one is gone: undici
 * writes a chunk and, when the socket's buffer is over its high-water mark, which a chunk of
 * MIN_RELEASED bytes always puts it, waits for 'drain', that is for the kernel to have taken
 * every byte, before it asks again. So the previous chunk, if it came from the pool, goes back.
 * A request that stops early (an error, an abort) returns the iterator instead: nothing is
 * handed back then. test/unit/util/chunk-pool.test.ts holds undici to this.
 *
 * Chunks are taken from 'data' events one at a time (the stream's own async iterator may
 * concatenate what is buffered into a new buffer). Errors of `body` end the iteration with them.
 */
export async function* releasingChunks(body: Readable): AsyncGenerator<Buffer, void, undefined> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Buffer): void => {
    queue.push(c);
    body.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (err: unknown): void => {
    failure ??= err;
    notify();
  };
  // Destroyed without an error and before its end: fail, as the stream's own iterator does.
  const onClose = (): void => {
    if (!ended) failure ??= Object.assign(new Error('the body closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    notify();
  };
  body.on('data', onData);
  body.once('end', onEnd);
  body.once('error', onError);
  body.once('close', onClose);
  let prev: Buffer | undefined;
  try {
    for (;;) {
      if (failure !== undefined) throw failure;
      const c = queue.shift();
      if (c !== undefined) {
        if (prev) giveBack(prev);
        prev = c;
        yield c;
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        body.resume();
      });
    }
    // Asked for more after the last chunk: that one is gone too.
    if (prev) giveBack(prev);
  } finally {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
  }
}
