import type { Readable } from 'node:stream';
import { AirlockError, abortError, ioError, isAirlockError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

/**
 * Pull-based byte reader over a Readable: hands out sub-arrays of the chunks it receives (no
 * copies except for a header straddling two chunks), so memory stays at one chunk plus the
 * source's own buffer.
 */
export class ChunkSource {
  readonly #input: Readable;
  readonly #it: AsyncIterator<unknown>;
  readonly #where: string;
  readonly #signal: AbortSignal | undefined;
  #buf: Buffer = EMPTY;
  #eof = false;
  #position = 0;

  constructor(input: Readable, where: string, signal?: AbortSignal) {
    this.#input = input;
    this.#it = input[Symbol.asyncIterator]();
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

  async #fill(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      if (this.#signal?.aborted) throw abortError(this.#signal);
      let r: IteratorResult<unknown>;
      try {
        r = await this.#it.next();
      } catch (err) {
        this.#eof = true;
        throw wrapInputError(err, this.#where);
      }
      if (r.done) {
        this.#eof = true;
        return false;
      }
      const v = r.value;
      this.#buf = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
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
