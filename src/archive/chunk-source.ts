import { finished, type Readable } from 'node:stream';
import { AirlockError, abortError, ioError, isAirlockError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

/** Chunks queued ahead of the reader before the input is paused. */
const QUEUE_BYTES = 2 << 20;

/**
 * Pull-based byte reader over a Readable: hands out sub-arrays of the chunks it receives (no
 * copies except for a header straddling two chunks), so memory stays at a few chunks plus the
 * source's own buffer. It takes chunks from 'data' events, not from the async iterator: that one
 * calls read() with no size, which concatenates (copies) whatever the stream has buffered.
 */
export class ChunkSource {
  readonly #input: Readable;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  readonly #where: string;
  readonly #signal: AbortSignal | undefined;
  #buf: Buffer = EMPTY;
  #eof = false;
  #position = 0;

  constructor(input: Readable, where: string, signal?: AbortSignal) {
    this.#input = input;
    input.on('data', (c: Buffer | Uint8Array) => {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      this.#queue.push(b);
      this.#queued += b.length;
      if (this.#queued >= QUEUE_BYTES) input.pause();
      this.#notify();
    });
    input.pause();
    // Ends, errors and a close without an end (ERR_STREAM_PREMATURE_CLOSE) all arrive here.
    finished(input, (err) => {
      if (err) this.#error = err;
      else this.#ended = true;
      this.#notify();
    });
    this.#where = where;
    this.#signal = signal;
  }

  /** Bytes handed out so far: the offset of the next byte in the stream. */
  get position(): number {
    return this.#position;
  }

  /** Up to `max` bytes; null at the end of the input. */
  async read(max: number): Promise<Buffer | null> {
    if (!(await this.#fill())) return null;
    const n = Math.min(max, this.#buf.length);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.#position += n;
    return out;
  }

  /** Exactly `n` bytes; null when the input ends before the first of them; throws when it ends inside. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    const first = await this.read(n);
    if (first === null) return null;
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const next = await this.read(n - got);
      if (next === null) throw this.truncated(what);
      parts.push(next);
      got += next.length;
    }
    return Buffer.concat(parts, n);
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const c = await this.read(left);
      if (c === null) throw this.truncated(what);
      left -= c.length;
    }
  }

  truncated(what: string): AirlockError {
    return new AirlockError('BUNDLE_UNREADABLE', `the archive is truncated: it ends inside ${what}`, {
      where: `${this.#where} at byte ${this.#position}`,
      hint: 'the file is incomplete (an interrupted copy?): copy it again and check it against checksums.txt',
    });
  }

  close(): void {
    this.#buf = EMPTY;
    this.#eof = true;
    this.#input.destroy();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #fill(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      if (this.#signal?.aborted) throw abortError(this.#signal);
      const next = this.#queue.shift();
      if (next !== undefined) {
        this.#queued -= next.length;
        this.#buf = next;
        // Keep the producer running ahead while the reader works on this chunk.
        if (this.#queued < QUEUE_BYTES && !this.#ended && this.#error === undefined) this.#input.resume();
        continue;
      }
      if (this.#error !== undefined) {
        this.#eof = true;
        throw wrapInputError(this.#error, this.#where);
      }
      if (this.#ended) {
        this.#eof = true;
        return false;
      }
      const woken = new Promise<void>((resolve) => { this.#wake = resolve; });
      this.#input.resume();
      await woken;
    }
    return true;
  }
}

export function wrapInputError(err: unknown, where: string): AirlockError {
  if (isAirlockError(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_STREAM_PREMATURE_CLOSE') return ioError(err, 'read', where);
  return new AirlockError('BUNDLE_UNREADABLE', 'the archive cannot be read', { where, cause: err });
}
