import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, SizeMismatchError, AirlockError } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { CHUNKS, chunksOf, type ChunkedBody } from '../util/index.js';

export interface VerifyStreamOptions {
  /** Named in errors: "blob sha256:… of docker.io/library/nginx:1.27", a bundle entry. */
  readonly where?: string;
  /** Called with the number of bytes of each chunk as it passes. */
  readonly onProgress?: (bytes: number) => void;
}

/**
 * The brand of a stream that checks its own bytes against one descriptor as they pass and fails
 * before it ends when they are wrong (see isVerifiedFor). A symbol, not a class: any stream can
 * carry the capability (a verifyStream, a cache's checked read), and a sink asks for it with a type
 * guard rather than `instanceof`.
 */
export const VERIFIES: unique symbol = Symbol('airlock.verifies');

/** A body that verifies itself: `[VERIFIES](desc)` is true when it checks exactly `desc`. */
export interface SelfVerifying {
  readonly [VERIFIES]: (desc: Pick<Descriptor, 'digest' | 'size'>) => boolean;
}

/**
 * True when `body` checks exactly `desc` as it streams: a sink handed it may skip hashing the same
 * bytes again (the stream fails before it ends if they are wrong, so nothing unverified is
 * committed as long as the sink commits only after the end).
 */
export function isVerifiedFor<T extends object>(body: T, desc: Pick<Descriptor, 'digest' | 'size'>): body is T & SelfVerifying {
  const check = (body as Partial<SelfVerifying>)[VERIFIES];
  return typeof check === 'function' && check.call(body, desc);
}

/**
 * The check verifyStream and verifyBody make as bytes pass: each chunk counted and hashed, a
 * failure as soon as more than `desc.size` bytes arrived, then the size and the digest at the end
 * (verifyHashed).
 */
class RunningCheck {
  readonly #hash: Hash = createHash('sha256');
  readonly #desc: Pick<Descriptor, 'digest' | 'size'>;
  readonly #opts: VerifyStreamOptions;
  #bytes = 0;

  constructor(desc: Pick<Descriptor, 'digest' | 'size'>, opts: VerifyStreamOptions) {
    this.#desc = desc;
    this.#opts = opts;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** All the size has arrived (add() refuses more). */
  get complete(): boolean {
    return this.#bytes === this.#desc.size;
  }

  /** True when this checks exactly `desc` (isVerifiedFor). */
  covers(desc: Pick<Descriptor, 'digest' | 'size'>): boolean {
    return this.#desc.digest === desc.digest && this.#desc.size === desc.size;
  }

  /** Count and hash `chunk`; throws SizeMismatchError, before hashing, once more than the size has arrived. */
  add(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#desc.size) throw new SizeMismatchError(this.#desc.digest, this.#desc.size, this.#bytes, mismatchDetails(this.#opts.where));
    this.#hash.update(chunk);
    this.#opts.onProgress?.(chunk.length);
  }

  /** Throws unless exactly the size arrived, with the digest. */
  finish(): void {
    verifyHashed(this.#desc, { bytes: this.#bytes, hex: this.#bytes === this.#desc.size ? this.#hash.digest('hex') : '' }, this.#opts);
  }
}

/**
 * A pass-through that hashes and counts every byte, fails as soon as more than `desc.size` bytes
 * arrive, and fails at the end if the size or the digest differ. Nothing downstream may treat the
 * data as good before this stream has ended without error.
 */
export class VerifyStream extends Transform implements SelfVerifying {
  readonly #check: RunningCheck;

  constructor(desc: Pick<Descriptor, 'digest' | 'size'>, opts: VerifyStreamOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    this.#check = new RunningCheck(desc, opts);
  }

  get bytes(): number {
    return this.#check.bytes;
  }

  /** True when this stream checks exactly `desc` (isVerifiedFor). */
  readonly [VERIFIES] = (desc: Pick<Descriptor, 'digest' | 'size'>): boolean => this.#check.covers(desc);

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.#check.add(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.#check.finish();
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }
}

export function verifyStream(desc: Pick<Descriptor, 'digest' | 'size'>, opts?: VerifyStreamOptions): VerifyStream {
  return new VerifyStream(desc, opts);
}

/**
 * `body` checked against `desc` as it streams, as `body.pipe(verifyStream(desc, opts))` with
 * `body`'s errors passed on, and with the same checks and errors. A body that offers its chunks
 * straight (util/chunk-pool.ts CHUNKS: the bundle's range reader) is checked chunk by chunk as
 * they are taken, with no Transform in between, and the result offers its chunks straight too
 * (an upload takes them: one buffer from the file read to the socket, hashed on the way).
 */
export function verifyBody(body: Readable, desc: Pick<Descriptor, 'digest' | 'size'>, opts: VerifyStreamOptions = {}): Readable & SelfVerifying {
  const chunked = chunksOf(body);
  if (chunked) return new VerifiedChunks(body, chunked, desc, opts);
  const verified = body.pipe(verifyStream(desc, opts));
  body.on('error', (err) => verified.destroy(err));
  return verified;
}

/**
 * verifyStream's checks on the chunks of a ChunkedBody as they are taken: the count, a failure as
 * soon as more than `desc.size` bytes arrive, then the size and the digest (verifyHashed). The
 * chunk that completes `desc.size` bytes is handed on only once the source has ended and the
 * digest matched: the last bytes of a damaged blob are never sent on. Read as a stream (a sink
 * that does not take chunks), it pushes the same chunks.
 */
class VerifiedChunks extends Readable implements SelfVerifying, ChunkedBody {
  readonly #src: Readable;
  readonly #chunks: ChunkedBody;
  readonly #check: RunningCheck;
  #it: AsyncGenerator<Buffer, void, undefined> | undefined;

  constructor(src: Readable, chunks: ChunkedBody, desc: Pick<Descriptor, 'digest' | 'size'>, opts: VerifyStreamOptions) {
    super({ highWaterMark: 1 });
    this.#src = src;
    this.#chunks = chunks;
    this.#check = new RunningCheck(desc, opts);
    // The source's own errors (destroyed from outside with one) end this stream with them.
    src.on('error', (err) => this.destroy(err));
  }

  readonly [VERIFIES] = (desc: Pick<Descriptor, 'digest' | 'size'>): boolean => this.#check.covers(desc);

  [CHUNKS](): AsyncGenerator<Buffer, void, undefined> {
    if (this.#it) throw new Error('the chunks of a body can be taken once');
    this.#it = this.#checked();
    return this.#it;
  }

  override _read(): void {
    this.#it ??= this.#checked();
    this.#it.next().then(
      (r) => this.push(r.done ? null : r.value),
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The source is destroyed with this stream (a chunk read in flight completes unused); a
    // generator suspended at a yield is returned, which returns the source's.
    if (err) this.#src.destroy(err);
    else this.#src.destroy();
    void this.#it?.return().catch(() => {});
    cb(err);
  }

  async *#checked(): AsyncGenerator<Buffer, void, undefined> {
    const check = this.#check;
    const src = this.#chunks[CHUNKS]();
    let done = false;
    try {
      let r = await src.next();
      while (!r.done) {
        const chunk = r.value;
        check.add(chunk);
        if (!check.complete) {
          yield chunk;
          r = await src.next();
          continue;
        }
        // All the bytes: the source must end here, and the digest match, before the chunk goes on.
        do r = await src.next();
        while (!r.done && r.value.length === 0);
        // A byte more than the size: add() throws the size mismatch, counting that chunk.
        if (!r.done) check.add(r.value);
        done = true;
        check.finish();
        yield chunk;
        return;
      }
      done = true;
      check.finish();
    } finally {
      if (!done) await src.return?.();
    }
  }
}

/**
 * Read a small verified object (manifest, config, airlock.json) fully into memory, refusing more
 * than `maxBytes`.
 */
export async function readVerified(
  body: Readable,
  desc: Pick<Descriptor, 'digest' | 'size'>,
  maxBytes: number,
  opts: VerifyStreamOptions = {},
): Promise<Buffer> {
  if (desc.size > maxBytes) {
    body.destroy();
    throw new AirlockError('SIZE_MISMATCH', `${desc.digest} claims ${desc.size} bytes, more than the ${maxBytes} allowed`, {
      ...(opts.where ? { where: opts.where } : {}),
    });
  }
  const chunks: Buffer[] = [];
  await pipeline(body, verifyStream(desc, opts), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) chunks.push(c);
  });
  return Buffer.concat(chunks);
}

/** Read a stream into memory, failing past `maxBytes` (for content whose digest is not yet known). */
export async function readCapped(body: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > maxBytes) {
      body.destroy();
      throw new AirlockError('SIZE_MISMATCH', `${what} is larger than ${maxBytes} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The same checks as verifyStream for bytes already in memory, with the same errors. */
export function verifyBytes(data: Uint8Array, desc: Pick<Descriptor, 'digest' | 'size'>, opts: Pick<VerifyStreamOptions, 'where'> = {}): void {
  verifyHashed(desc, { bytes: data.length, hex: data.length === desc.size ? createHash('sha256').update(data).digest('hex') : '' }, opts);
}

function mismatchDetails(where: string | undefined): { readonly where?: string; readonly hint: string } {
  return { ...(where ? { where } : {}), hint: 'the content was damaged or altered in transit; fetch or copy it again' };
}

/**
 * The one size and digest check behind verifyStream (at its end) and verifyBytes, also for bytes
 * hashed elsewhere (a worker that read them where they lie): their count and sha256 (hex) against
 * `desc`. The size is checked first: callers hash only the right number of bytes (`hex` is not
 * looked at otherwise).
 */
export function verifyHashed(desc: Pick<Descriptor, 'digest' | 'size'>, hashed: { readonly hex: string; readonly bytes: number }, opts: Pick<VerifyStreamOptions, 'where'> = {}): void {
  const details = mismatchDetails(opts.where);
  if (hashed.bytes !== desc.size) throw new SizeMismatchError(desc.digest, desc.size, hashed.bytes, details);
  const actual = `sha256:${hashed.hex}`;
  if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual, hashed.bytes, details);
}

export function digestMatches(data: Uint8Array, digest: Digest): boolean {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` === digest;
}
