import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { ioError } from '../errors.js';

/**
 * Bytes between background fdatasync calls. Linux starts writeback only at 10% dirty memory
 * (vm.dirty_background_ratio), so without them a bundle of a few GB sat in the page cache and the
 * final fsync wrote all of it while the export waited (~0.4 GB/s here: 4 s per 1.7 GB). Syncing
 * as we go lets the disk work while the CPU hashes and compresses (docs/BENCHMARKS.md).
 */
const SYNC_EVERY = 64 << 20;

/**
 * Background fdatasync every SYNC_EVERY bytes written to `fh`, one at a time (see SYNC_EVERY).
 * `wrote(n)` after each write; `settle()` waits for the one in flight and rethrows its failure.
 */
export class PeriodicSync {
  readonly #fh: FileHandle;
  #unsynced = 0;
  #syncing: Promise<void> | undefined;
  #error: unknown;

  constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  wrote(n: number): void {
    this.#unsynced += n;
    if (this.#unsynced < SYNC_EVERY || this.#syncing) return;
    this.#unsynced = 0;
    this.#syncing = this.#fh.datasync().catch((err: unknown) => {
      this.#error ??= err;
    }).finally(() => {
      this.#syncing = undefined;
    });
  }

  /** The sync in flight, done; its failure, if any, thrown. */
  async settle(): Promise<void> {
    await this.#syncing;
    if (this.#error) throw this.#error;
  }
}

/**
 * A file writer that hashes what it writes (for checksums.txt: hashed while writing, never by
 * re-reading) and fsyncs before it reports finished, so a rename afterwards publishes whole data.
 */
export class HashingFileSink extends Writable {
  readonly path: string;
  readonly #hash: Hash = createHash('sha256');
  #fh: FileHandle | undefined;
  #bytes = 0;
  #hex: string | undefined;

  readonly #sync: boolean;
  /** Background fdatasync; its failure fails the file at _final. */
  #periodic: PeriodicSync | undefined;

  /** `sync: false` skips the fsync (many small files in a directory that is renamed whole). */
  constructor(path: string, opts: { sync?: boolean } = {}) {
    super({ highWaterMark: 4 << 20 });
    this.path = path;
    this.#sync = opts.sync ?? true;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** sha256 hex of everything written; available after 'finish'. */
  get sha256(): string {
    if (this.#hex === undefined) throw new Error('HashingFileSink: not finished');
    return this.#hex;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o644).then(
      (fh) => {
        this.#fh = fh;
        if (this.#sync) this.#periodic = new PeriodicSync(fh);
        cb();
      },
      (err: unknown) => cb(ioError(err, 'create', this.path)),
    );
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    for (const b of bufs) {
      this.#hash.update(b);
      this.#bytes += b.length;
    }
    this.#writeAll(bufs).then(() => {
      this.#periodic?.wrote(bufs.reduce((n, b) => n + b.length, 0));
      cb();
    }, (err: unknown) => cb(ioError(err, 'write', this.path)));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#hex = this.#hash.digest('hex');
    const fh = this.#fh;
    if (!fh) {
      cb();
      return;
    }
    (this.#periodic ? this.#periodic.settle().then(() => fh.sync()) : Promise.resolve()).then(
      () => fh.close(),
    ).then(
      () => {
        this.#fh = undefined;
        cb();
      },
      (err: unknown) => cb(ioError(err, 'write', this.path)),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.#fh;
    this.#fh = undefined;
    if (!fh) {
      cb(err);
      return;
    }
    (this.#periodic?.settle() ?? Promise.resolve()).catch(() => {}).then(() => fh.close()).then(() => cb(err), () => cb(err));
  }

  async #writeAll(bufs: Buffer[]): Promise<void> {
    const fh = this.#fh!;
    let list = bufs;
    while (list.length > 0) {
      let { bytesWritten } = await fh.writev(list);
      const rest: Buffer[] = [];
      for (const b of list) {
        if (bytesWritten >= b.length) bytesWritten -= b.length;
        else {
          rest.push(b.subarray(bytesWritten));
          bytesWritten = 0;
        }
      }
      list = rest;
    }
  }
}
