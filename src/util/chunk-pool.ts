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

/**
 * The mark of a body whose chunks can be taken straight, as an async iterator, instead of through
 * the stream machinery (Readable.push, 'data' events, pipe, Transform: ~15-20 % of an import's
 * client CPU in `perf`, docs/BENCHMARKS.md). A symbol, not a class: a stream carries it as a
 * capability, and a consumer asks for it with {@link chunksOf}.
 *
 * Taking the chunks takes the body: it is not to be read as a stream after that. Each chunk is the
 * consumer's (a pool chunk it may hand back once done with it, or leave to the collector). The
 * iterator's end is the body's end; its errors are the body's errors. return() before the end
 * releases what the body holds (a file), as destroying the stream would.
 */
export const CHUNKS: unique symbol = Symbol('airlock.chunks');

export interface ChunkedBody {
  readonly [CHUNKS]: () => AsyncIterator<Buffer, void, undefined>;
}

/** The chunks of `body` when it offers them straight (see CHUNKS); undefined for any other stream. */
export function chunksOf(body: object): ChunkedBody | undefined {
  const take = (body as Partial<ChunkedBody>)[CHUNKS];
  return typeof take === 'function' ? (body as ChunkedBody) : undefined;
}

/**
 * `chunks` for an HTTP request body sent by undici, handing each pool chunk back once the next
 * is asked for, on the grounds {@link releasingChunks} gives: undici asks for the next chunk only
 * after the socket drained (or closed). A request that stops early returns the iterator instead,
 * and nothing is handed back then.
 */
export async function* releasing(chunks: AsyncIterator<Buffer, void, undefined>): AsyncGenerator<Buffer, void, undefined> {
  let finished = false;
  try {
    for (;;) {
      const r = await chunks.next();
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
      // Resumed by next(): the consumer is done with this one.
      giveBack(r.value);
    }
  } finally {
    if (!finished) await chunks.return?.();
  }
}

/**
 * Hand back chunks an HTTP client is known to be done with: a request whose whole body the server
 * acknowledged (a blob upload answered 201 has had every byte read by the registry).
 */
export function giveBackAll(chunks: readonly Buffer[]): void {
  for (const c of chunks) giveBack(c);
}
