import { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';
import { ChunkSource } from './chunk-source.js';
import { BLOCK_SIZE, TarHeaderDecoder, paddingOf } from './tar-header.js';

export interface TarEntry {
  /** Normalised path (`./a//b` → `a/b`). */
  readonly path: string;
  readonly size: number;
  /** Offset of the entry's first data byte in the (uncompressed) tar stream. */
  readonly offset: number;
  /** Streams exactly `size` bytes; fails if the archive ends early. */
  readonly body: Readable;
}

export interface ReadTarOptions {
  readonly signal?: AbortSignal;
  /** Names the archive in errors. */
  readonly where?: string;
}

const BODY_HIGH_WATER_MARK = 1 << 20;

/**
 * Regular-file entries of a plain tar stream, front to back. Strictly sequential: each body must
 * be consumed (or left alone, and it is skipped) before asking for the next entry. Refuses links,
 * devices, FIFOs, unsafe paths and duplicates (UNSAFE_ARCHIVE_ENTRY); garbage and truncation are
 * BUNDLE_UNREADABLE, and an archive that stops without its end-of-archive marker is truncated, not
 * finished. Bytes after the end-of-archive marker are not read. The input is destroyed when the
 * iteration ends, whichever way it ends.
 */
export async function* readTarEntries(input: Readable, opts: ReadTarOptions = {}): AsyncGenerator<TarEntry, void, undefined> {
  const where = opts.where ?? 'tar archive';
  const src = new ChunkSource(input, where, opts.signal);
  const decoder = new TarHeaderDecoder(where);
  let body: EntryBody | undefined;
  try {
    for (;;) {
      const at = src.position;
      const block = await src.readExact(BLOCK_SIZE, 'a tar header');
      if (block === null) throw src.truncated('the archive (no end-of-archive marker)');
      const step = decoder.header(block, at);
      switch (step.kind) {
        case 'end':
          return;
        case 'skip':
          await src.skip(step.size + paddingOf(step.size), 'an entry');
          break;
        case 'meta': {
          const data = (await src.readExact(step.size, 'an extended header')) ?? Buffer.alloc(0);
          if (data.length !== step.size) throw src.truncated('an extended header');
          await src.skip(paddingOf(step.size), 'an extended header');
          decoder.meta(data, at);
          break;
        }
        case 'file': {
          body = new EntryBody(src, step.size, `${where}, entry ${step.path}`);
          yield { path: step.path, size: step.size, offset: src.position, body };
          await body.finish();
          body = undefined;
          await src.skip(paddingOf(step.size), `entry ${step.path}`);
          break;
        }
      }
    }
  } finally {
    body?.abandon();
    src.close();
  }
}

/** One entry's bytes, pulled from the shared source only when the consumer reads. */
class EntryBody extends Readable {
  readonly #src: ChunkSource;
  readonly #what: string;
  #remaining: number;
  #reading: Promise<void> | undefined;
  #failure: AirlockError | undefined;

  constructor(src: ChunkSource, size: number, what: string) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    this.#src = src;
    this.#remaining = size;
    this.#what = what;
    if (size === 0) this.push(null);
  }

  override _read(n: number): void {
    if (this.#remaining === 0 || this.#reading) return;
    this.#reading = this.#src.read(Math.min(this.#remaining, Math.max(n, BODY_HIGH_WATER_MARK))).then(
      (chunk) => {
        this.#reading = undefined;
        if (chunk === null) {
          this.#fail(this.#src.truncated(this.#what));
          return;
        }
        this.#remaining -= chunk.length;
        this.push(chunk);
        if (this.#remaining === 0) this.push(null);
      },
      (err: unknown) => {
        this.#reading = undefined;
        this.#fail(err instanceof AirlockError ? err : new AirlockError('BUNDLE_UNREADABLE', 'the archive cannot be read', { cause: err }));
      },
    );
  }

  #fail(err: AirlockError): void {
    this.#failure = err;
    this.destroy(err);
  }

  /** Called before the next entry: wait for a read in flight, then skip what the consumer left. */
  async finish(): Promise<void> {
    if (this.#reading) await this.#reading;
    if (this.#failure) throw this.#failure;
    if (this.#remaining > 0) {
      const left = this.#remaining;
      this.#remaining = 0;
      if (!this.destroyed) this.destroy();
      await this.#src.skip(left, this.#what);
    }
  }

  /** The iteration ended early: a reader still holding the body sees it closed, without an error event nobody listens to. */
  abandon(): void {
    if (!this.destroyed && !this.readableEnded) this.destroy();
  }
}
