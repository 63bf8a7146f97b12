import { readvSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AirlockError, abortError, ioError, zstdDamaged } from '../errors.js';
import { CHUNKS, MIN_RELEASED, POOL_CHUNK as CHUNK, takeChunk, type ChunkedBody } from '../util/index.js';
import { blockHeaderProblem, nextSpan, type RangeSpan } from './range-span.js';
import type { FileRange } from './zstd-index.js';


/**
 * The bytes of `ranges` of one file, in order, as a stream of chunks of up to 1 MiB. Ranges
 * separated by small gaps (the 3-byte headers between raw zstd blocks) are gathered by one
 * positional readv per chunk, the gaps landing in a scratch buffer. A raw block header the index
 * predicted (FileRange.rawBlock) is read with its block and checked before the chunk is handed
 * out: one that is not what the bundle format puts there fails BUNDLE_UNREADABLE, as the zstd
 * decoder refuses a damaged stream. Each chunk is a buffer of
 * its own (from the chunk pool) that the consumer is free to keep. A file shorter than the ranges fails
 * BUNDLE_UNREADABLE (changed or truncated since it was indexed). The chunks can also be taken
 * straight ({@link CHUNKS}), without the stream machinery: an upload does.
 */
export function readFileRanges(path: string, ranges: readonly FileRange[], signal?: AbortSignal): Readable {
  return new RangeReadable(path, ranges.filter((r) => r.length > 0), signal);
}

class RangeReadable extends Readable implements ChunkedBody {
  readonly #path: string;
  readonly #ranges: readonly FileRange[];
  readonly #signal: AbortSignal | undefined;
  /** Where the gaps of a read land, each in a place of its own (block headers are checked after the read). */
  #scratch = Buffer.allocUnsafe(256);
  #fh: FileHandle | undefined;
  /** Next range, and bytes of it already handed out. */
  #i = 0;
  #done = 0;

  constructor(path: string, ranges: readonly FileRange[], signal?: AbortSignal) {
    // One chunk ahead at most: chunks are consumed young, and freed young.
    super({ highWaterMark: 1 });
    this.#path = path;
    this.#ranges = ranges;
    this.#signal = signal;
  }

  override _read(): void {
    this.#fill().then(
      (chunk) => this.push(chunk),
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.#fh;
    this.#fh = undefined;
    if (!fh) cb(err);
    else fh.close().then(() => cb(err), () => cb(err));
  }

  /**
   * The chunks as an iterator (util/chunk-pool.ts CHUNKS): #fill one after the other, the stream
   * destroyed at the end. Read with a blocking readv in this thread, not through libuv's pool: the
   * chunk is then hashed and sent by the same core while it is still in its cache (1 MiB, L2 is 2
   * MiB here), and no worker is woken per read (futex, a context switch, a request object). A read
   * from the page cache takes ~0.1-0.2 ms; from a cold disk it stalls the event loop for as long
   * as the disk takes, which the other uploads, waiting on the same disk, would mostly wait anyway.
   */
  async *[CHUNKS](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (;;) {
        const chunk = await this.#fill(true);
        if (chunk === null) return;
        yield chunk;
      }
    } finally {
      // The end, an error or an early return(): the file is closed. Errors go to the taker (they
      // are thrown at it), not to 'error' listeners a taker of chunks need not have.
      if (!this.destroyed) this.destroy();
    }
  }

  #gone(): Error {
    return this.errored ?? Object.assign(new Error('the stream was destroyed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  }

  async #open(): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await open(this.#path, 'r');
    } catch (err) {
      throw ioError(err, 'open', this.#path);
    }
    if (this.destroyed) {
      await fh.close().catch(() => {});
      throw this.#gone();
    }
    this.#fh = fh;
    return fh;
  }

  /** The next chunk, or null after the last range; `sync`: read with readvSync (see CHUNKS). */
  async #fill(sync = false): Promise<Buffer | null> {
    if (this.#signal?.aborted) throw abortError(this.#signal);
    // Destroyed while its chunks are taken: do not open the file again.
    if (this.destroyed) throw this.#gone();
    if (this.#i >= this.#ranges.length) return null;
    const fh = this.#fh ?? (await this.#open());
    // Gather ranges (and the small gaps between them) into one chunk.
    const span = nextSpan(this.#ranges, { i: this.#i, done: this.#done }, { maxData: CHUNK, maxParts: 1000 });
    const want = span.data;
    // A pool chunk: an upload hands it back when sent (util/chunk-pool.ts); anyone else just drops it.
    // Small reads (a blob's last chunk, a small blob) are not worth a whole pool buffer.
    const out = want >= MIN_RELEASED ? takeChunk().subarray(0, want) : Buffer.allocUnsafe(want);
    const iov: Buffer[] = [];
    if (span.length - want > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(span.length - want);
    let o = 0;
    let g = 0;
    for (const p of span.parts) {
      if (p.gap) {
        iov.push(this.#scratch.subarray(g, g + p.len));
        g += p.len;
      } else {
        iov.push(out.subarray(o, o + p.len));
        o += p.len;
      }
    }
    let got = 0;
    while (got < span.length) {
      const bytesRead = sync ? readvSync(fh.fd, skip(iov, got), span.start + got) : (await fh.readv(skip(iov, got), span.start + got)).bytesRead;
      if (bytesRead === 0) {
        throw new AirlockError('BUNDLE_UNREADABLE', `the file ends at byte ${span.start + got}, inside an entry`, {
          where: this.#path, hint: 'the file changed or was truncated while it was read: copy it again and check it against checksums.txt',
        });
      }
      got += bytesRead;
    }
    this.#checkHeaders(span, iov);
    this.#i = span.next.i;
    this.#done = span.next.done;
    return out;
  }

  /** The predicted raw block headers the read brought in (each in its own iovec) are what the format says. */
  #checkHeaders(span: RangeSpan, iov: readonly Buffer[]): void {
    let at = span.start;
    for (let k = 0; k < span.parts.length; k++) {
      const p = span.parts[k]!;
      if (p.rawBlock !== undefined) {
        const problem = blockHeaderProblem(iov[k]!, p.rawBlock, at);
        if (problem) throw zstdDamaged(problem, this.#path);
      }
      at += p.len;
    }
  }
}

/** `iov` without its first `n` bytes. */
function skip(iov: readonly Buffer[], n: number): Buffer[] {
  if (n === 0) return iov as Buffer[];
  const out: Buffer[] = [];
  for (const b of iov) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}
