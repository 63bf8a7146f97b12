import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { AirlockError, abortError, ioError, zstdDamaged } from '../errors.js';
import { startWorker } from './worker-start.js';
import { bytesOfRanges } from './range-span.js';
import type { FileRange } from './zstd-index.js';

/** @internal Main thread → worker. */
export interface RangeHasherRequest {
  readonly id: number;
  readonly path: string;
  readonly ranges: readonly FileRange[];
}
/** @internal Worker → main thread. */
export type RangeHasherReply =
  | { readonly id: number; readonly progress: number }
  | { readonly id: number; readonly hex: string; readonly bytes: number }
  | { readonly id: number; readonly error: string; readonly code?: string };

/** The sha256 (hex) of the bytes hashed, and how many there were. */
export interface RangeHash {
  readonly hex: string;
  readonly bytes: number;
}

export interface RangeHashOptions {
  readonly signal?: AbortSignal;
  /** Bytes hashed since the last call (in steps of up to 32 MiB). */
  readonly onProgress?: (bytes: number) => void;
}

interface Job {
  readonly id: number;
  readonly path: string;
  readonly ranges: readonly FileRange[];
  /** The ranges' total length. */
  readonly bytes: number;
  readonly opts: RangeHashOptions;
  readonly resolve: (r: RangeHash) => void;
  readonly reject: (err: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
}

/** Workers the pool starts at most: each hashes at ~1.3 GB/s, more than the page cache feeds a few. */
const MAX_WORKERS = 4;

/**
 * sha256 of byte ranges of files (entries stored in a bundle file as they are: a plain .tar, the
 * raw zstd blocks of a .tar.zst), hashed on a few worker threads where the bytes lie. Each worker
 * reads with positional reads into one small buffer of its own and hashes it while it is in that
 * core's cache; nothing but the ranges and the digest crosses threads, and nothing is allocated
 * per chunk. Several entries are hashed at once, one per worker, the largest queued first.
 * Workers start on first use.
 */
export class RangeHasherPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(size = Math.min(MAX_WORKERS, availableParallelism())) {
    this.size = Math.max(1, size);
  }

  /** The sha256 of `ranges` of `path`, in order. Rejects on a read error, a file shorter than the ranges, or `signal`. */
  hash(path: string, ranges: readonly FileRange[], opts: RangeHashOptions = {}): Promise<RangeHash> {
    if (this.#closed) return Promise.reject(new AirlockError('INTERNAL', 'the hashing pool is closed'));
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    return new Promise<RangeHash>((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = (): void => {
        // Queued: dropped. Running: its worker is stopped (its loop does not yield) and replaced.
        const q = this.#queue.indexOf(job);
        if (q >= 0) this.#queue.splice(q, 1);
        const slot = this.#slots.find((s) => s.job === job);
        if (slot) this.#retire(slot);
        reject(abortError(signal!));
      };
      const job: Job = {
        id: this.#nextId++, path, ranges, bytes: bytesOfRanges(ranges), opts,
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Start every worker now, before the first hash (a worker takes ~50 ms to start). */
  warm(): void {
    while (!this.#closed && this.#slots.length < this.size) this.#start();
  }

  /** Stop every worker; jobs not finished reject. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const j of this.#queue.splice(0)) j.reject(new AirlockError('INTERNAL', 'the hashing pool was closed'));
    await Promise.all(this.#slots.splice(0).map(async (s) => {
      s.job?.reject(new AirlockError('INTERNAL', 'the hashing pool was closed'));
      s.job = undefined;
      await s.worker.terminate();
    }));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (!slot) {
        if (this.#slots.length >= this.size) return;
        slot = this.#start();
      }
      // Largest first: the pool is done when its longest hash is, so that one starts early and the
      // small ones fill in beside it (bundles store layers smallest first: in file order the
      // largest would be hashed alone at the end).
      let at = 0;
      for (let i = 1; i < this.#queue.length; i++) if (this.#queue[i]!.bytes > this.#queue[at]!.bytes) at = i;
      const job = this.#queue.splice(at, 1)[0]!;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, path: job.path, ranges: job.ranges } satisfies RangeHasherRequest);
    }
  }

  #start(): Slot {
    const worker = startWorker('range-hasher-worker', undefined);
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (m: RangeHasherReply) => {
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      if ('progress' in m) {
        job.opts.onProgress?.(m.progress);
        return;
      }
      slot.job = undefined;
      if ('hex' in m) job.resolve({ hex: m.hex, bytes: m.bytes });
      else if (m.code === 'EBLOCKHEADER') job.reject(zstdDamaged(m.error, job.path));
      else if (m.code === 'ETRUNC') job.reject(new AirlockError('BUNDLE_UNREADABLE', m.error, { where: job.path, hint: 'the file changed while it was read: copy it again and check it against checksums.txt' }));
      else job.reject(ioError(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}), 'read', job.path));
      this.#dispatch();
    });
    const failed = (err: AirlockError): void => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      slot.job?.reject(err);
      slot.job = undefined;
      this.#dispatch();
    };
    worker.on('error', (err) => failed(new AirlockError('INTERNAL', 'a hashing worker failed', { cause: err })));
    worker.on('exit', () => failed(new AirlockError('INTERNAL', 'a hashing worker stopped early')));
    this.#slots.push(slot);
    return slot;
  }

  #retire(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    slot.job = undefined;
    void slot.worker.terminate();
    this.#dispatch();
  }
}
