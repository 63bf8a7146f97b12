import { closeSync, openSync, readSync } from 'node:fs';
import binding from 'zstd-napi/binding.js';
import { AirlockError } from '../errors.js';
import { BLOCK_SIZE, TarHeaderDecoder, paddingOf } from './tar-header.js';
import { DEFAULT_MAX_WINDOW_LOG, decompressStep } from './zstd.js';

/** An entry header; its body is read with `SyncTarFile.read()` before the next `next()`. */
export interface SyncTarEntry {
  readonly path: string;
  readonly size: number;
}

export interface SyncTarOptions {
  readonly maxWindowLog?: number;
  /** Give up (throw) once this many bytes have been decoded. Default 256 MiB. */
  readonly maxDecoded?: number;
}

const READ_BYTES = 128 << 10;
const OUT_BYTES = 128 << 10;

/**
 * A .tar or .tar.zst read in this thread with blocking reads, entry by entry, for what is read
 * first and whole: a bundle's front (airlock.json, the signature, the layout files, manifests and
 * configs: a few KB to a few MB in a few dozen entries). The streaming reader (tar-reader.ts, and
 * a worker thread for .tar.zst) costs a worker's start and a stream pipeline per entry, which is
 * most of a no-op re-import's time; this costs a few reads. Entries follow the same policy as the
 * streaming reader (TarHeaderDecoder). Nothing past the header of the last entry asked for is
 * decoded beyond one read. Errors are thrown as they come; callers that want the streaming
 * reader's reports read the file again with it.
 */
export class SyncTarFile {
  readonly #fd: number;
  readonly #where: string;
  readonly #decoder: TarHeaderDecoder;
  readonly #dctx: InstanceType<typeof binding.DCtx> | undefined;
  readonly #maxDecoded: number;
  #filePos = 0;
  #eof = false;
  /** zstd: compressed bytes read but not yet decoded. */
  #input: Buffer = Buffer.alloc(0);
  #inFrame = false;
  /** Decoded (or, for a plain tar, read) bytes not yet consumed. */
  #queue: Buffer[] = [];
  #queued = 0;
  /** Tar offset of the next unconsumed byte. */
  #at = 0;
  #decoded = 0;
  /** The current entry's body bytes not yet consumed, and its padding. */
  #bodyLeft = 0;
  #padLeft = 0;
  #ended = false;

  constructor(path: string, form: 'tar' | 'tar.zst', opts: SyncTarOptions = {}) {
    this.#where = path;
    this.#decoder = new TarHeaderDecoder(path);
    this.#maxDecoded = opts.maxDecoded ?? 256 << 20;
    this.#fd = openSync(path, 'r');
    if (form === 'tar.zst') {
      this.#dctx = new binding.DCtx();
      this.#dctx.setParameter(binding.DParameter.windowLogMax, opts.maxWindowLog ?? DEFAULT_MAX_WINDOW_LOG);
    }
  }

  /** The next regular file's header, or undefined at the end-of-archive marker. */
  next(): SyncTarEntry | undefined {
    if (this.#ended) return undefined;
    this.#skip(this.#bodyLeft + this.#padLeft);
    this.#bodyLeft = 0;
    this.#padLeft = 0;
    for (;;) {
      const headerAt = this.#at;
      const step = this.#decoder.header(this.#take(BLOCK_SIZE), headerAt);
      switch (step.kind) {
        case 'end':
          this.#ended = true;
          return undefined;
        case 'skip':
          this.#skip(step.size + paddingOf(step.size));
          continue;
        case 'meta':
          this.#decoder.meta(this.#take(step.size), headerAt);
          this.#skip(paddingOf(step.size));
          continue;
        case 'file':
          this.#bodyLeft = step.size;
          this.#padLeft = paddingOf(step.size);
          return { path: step.path, size: step.size };
      }
    }
  }

  /** The whole body of the entry `next()` returned last. */
  read(): Buffer {
    const n = this.#bodyLeft;
    this.#bodyLeft = 0;
    return this.#take(n);
  }

  close(): void {
    closeSync(this.#fd);
  }

  #take(n: number): Buffer {
    this.#fill(n);
    this.#at += n;
    this.#queued -= n;
    const first = this.#queue[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#queue.shift();
      else this.#queue[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const b = this.#queue[0]!;
      const k = Math.min(b.length, n - got);
      b.copy(out, got, 0, k);
      got += k;
      if (k === b.length) this.#queue.shift();
      else this.#queue[0] = b.subarray(k);
    }
    return out;
  }

  #skip(n: number): void {
    while (n > 0) {
      if (this.#queued === 0) this.#produce();
      const b = this.#queue[0]!;
      const k = Math.min(b.length, n);
      if (k === b.length) this.#queue.shift();
      else this.#queue[0] = b.subarray(k);
      this.#queued -= k;
      this.#at += k;
      n -= k;
    }
  }

  #fill(n: number): void {
    while (this.#queued < n) this.#produce();
  }

  /** Append at least one byte to the queue, or throw at the end of the file. */
  #produce(): void {
    if (!this.#dctx) {
      const b = this.#readFile();
      if (!b) throw this.#truncated('the archive ends before its end-of-archive marker');
      this.#push(b);
      return;
    }
    for (;;) {
      if (this.#input.length === 0) {
        const b = this.#readFile();
        if (!b) throw this.#truncated(this.#inFrame ? 'the zstd stream is truncated: it ends inside a frame' : 'the archive ends before its end-of-archive marker');
        this.#input = b;
      }
      const out = Buffer.allocUnsafe(OUT_BYTES);
      const [ret, produced, consumed] = decompressStep(this.#dctx, out, this.#input, this.#where);
      this.#input = this.#input.subarray(consumed);
      if (consumed > 0 || produced > 0) this.#inFrame = ret !== 0;
      if (produced > 0) {
        this.#decoded += produced;
        if (this.#decoded > this.#maxDecoded) {
          throw new AirlockError('BUNDLE_UNREADABLE', `more than ${this.#maxDecoded} bytes decoded before the end of what was asked for`, { where: this.#where });
        }
        this.#push(out.subarray(0, produced));
        return;
      }
      if (consumed === 0 && this.#input.length > 0) {
        throw new AirlockError('BUNDLE_UNREADABLE', 'the zstd stream is damaged: the decoder makes no progress', { where: this.#where });
      }
    }
  }

  #push(b: Buffer): void {
    this.#queue.push(b);
    this.#queued += b.length;
  }

  #readFile(): Buffer | undefined {
    if (this.#eof) return undefined;
    const b = Buffer.allocUnsafe(READ_BYTES);
    const n = readSync(this.#fd, b, 0, READ_BYTES, this.#filePos);
    if (n === 0) {
      this.#eof = true;
      return undefined;
    }
    this.#filePos += n;
    return b.subarray(0, n);
  }

  #truncated(what: string): AirlockError {
    return new AirlockError('BUNDLE_INCOMPLETE', what, {
      where: `${this.#where} at byte ${this.#at}`,
      hint: 'the file is incomplete (an interrupted copy?): copy it again and check it against checksums.txt',
    });
  }
}
