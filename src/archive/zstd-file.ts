import { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { AirlockError, zstdDamaged } from '../errors.js';
import { startWorker } from './worker-start.js';
import { DEFAULT_MAX_WINDOW_LOG } from './zstd.js';

/** @internal What the worker is started with. */
export interface ZstdWorkerData {
  readonly path: string;
  readonly maxWindowLog: number;
  readonly inSize: number;
}

/** @internal Worker → main thread. */
export type ZstdWorkerMessage =
  | { readonly type: 'data'; readonly buf: ArrayBuffer; readonly length: number; readonly bytesRead: number }
  | { readonly type: 'end'; readonly bytesRead: number }
  | { readonly type: 'error'; readonly kind: 'io' | 'zstd' | 'truncated'; readonly message: string; readonly code?: string };

export interface ZstdFileStreamOptions {
  /** Refuse frames whose window exceeds 2^maxWindowLog bytes. Default 27 (128 MiB). */
  readonly maxWindowLog?: number;
}

/** A Readable of a .tar.zst file's decompressed bytes that also counts the file bytes read. */
export interface ZstdFileStream extends Readable {
  readonly bytesRead: number;
}

/**
 * 1 MiB slabs, four ahead: measured on the large bundle against 4 MiB × 2, the same speed
 * (verify 1.68–1.82 s, import 7.2–7.3 s) with less memory (verify peak RSS 131 instead of
 * 154–163 MiB) and a little less import CPU (4.4 instead of 4.7 s).
 */
const SLAB = 1 << 20;
/** Slabs granted to the worker ahead of the reader: enough to keep both threads busy. */
const AHEAD = 4;

/**
 * The decompressed bytes of a zstd file, read and decompressed on a worker thread. On 2 vCPUs
 * this overlaps reading and decompression with what the main thread does with the bytes (tar
 * parsing, sha256): docs/BENCHMARKS.md "verify and startup". Slabs move by transfer, so the
 * bytes are never copied between threads. Same failures as createZstdDecompressStream:
 * BUNDLE_UNREADABLE for damaged or truncated input; file errors carry their errno code.
 */
export function createZstdFileStream(path: string, opts: ZstdFileStreamOptions = {}): ZstdFileStream {
  return new ZstdFileReadable(path, opts.maxWindowLog ?? DEFAULT_MAX_WINDOW_LOG);
}

class ZstdFileReadable extends Readable implements ZstdFileStream {
  readonly #path: string;
  readonly #worker: Worker;
  #inFlight = 0;
  #wants = false;
  #bytesRead = 0;
  #settled = false;

  constructor(path: string, maxWindowLog: number) {
    super({ highWaterMark: SLAB });
    this.#path = path;
    const data: ZstdWorkerData = { path, maxWindowLog, inSize: 1 << 20 };
    this.#worker = startWorker('zstd-worker', data);
    this.#worker.on('message', (m: ZstdWorkerMessage) => this.#onMessage(m));
    this.#worker.on('error', (err) => this.#fail(new AirlockError('INTERNAL', 'the zstd worker failed', { where: path, cause: err })));
    this.#worker.on('exit', () => {
      if (!this.#settled) this.#fail(new AirlockError('INTERNAL', 'the zstd worker stopped early', { where: path }));
    });
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  override _read(): void {
    this.#wants = true;
    this.#topUp();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#settled = true;
    void this.#worker.terminate();
    cb(err);
  }

  #topUp(): void {
    if (this.#settled || !this.#wants || this.#inFlight >= AHEAD) return;
    // Slabs are allocated here, not in the worker: V8 counts them toward this thread's external
    // memory, so garbage slabs trigger GC here (allocated there and transferred in, they were not
    // counted, and peak RSS grew by ~50 MiB).
    const slabs: ArrayBuffer[] = [];
    // allocUnsafeSlow: not zero-filled (400 zeroed 4 MiB slabs cost ~0.27 CPU-s per 1.6 GB), and
    // not from the pool, so the ArrayBuffer is the slab alone and can be transferred.
    for (let i = this.#inFlight; i < AHEAD; i++) slabs.push(Buffer.allocUnsafeSlow(SLAB).buffer as ArrayBuffer);
    this.#inFlight += slabs.length;
    this.#worker.postMessage({ slabs }, slabs);
  }

  #onMessage(m: ZstdWorkerMessage): void {
    if (this.#settled) return;
    switch (m.type) {
      case 'data':
        this.#inFlight--;
        this.#bytesRead = m.bytesRead;
        if (!this.push(Buffer.from(m.buf, 0, m.length))) this.#wants = false;
        this.#topUp();
        return;
      case 'end':
        this.#bytesRead = m.bytesRead;
        this.#settled = true;
        this.push(null);
        void this.#worker.terminate();
        return;
      case 'error':
        this.#fail(this.#errorOf(m));
        return;
    }
  }

  #errorOf(m: Extract<ZstdWorkerMessage, { type: 'error' }>): Error {
    const where = this.#path;
    switch (m.kind) {
      case 'io':
        // The errno code travels so callers map it like any file error (wrapInputError → ioError).
        return Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
      case 'truncated':
        return new AirlockError('BUNDLE_UNREADABLE', m.message, {
          where, hint: 'the file is incomplete (an interrupted copy?): copy it again and check it against checksums.txt',
        });
      case 'zstd':
        return zstdDamaged(m.message, where);
    }
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    void this.#worker.terminate();
    this.destroy(err);
  }
}
