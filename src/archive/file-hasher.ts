import type { Worker } from 'node:worker_threads';
import { AirlockError } from '../errors.js';
import { startWorker } from './worker-start.js';

/** @internal Main thread → worker. */
export type FileHasherRequest = { readonly upTo: number } | { readonly end: number };
/** @internal Worker → main thread. */
export type FileHasherReply = { readonly hex: string } | { readonly error: string; readonly code?: string };

/**
 * sha256 of a file that is still being written, computed on a worker thread that follows the
 * written prefix: the caller reports how far the file is whole (`advance`), the worker reads
 * (from the page cache) and hashes up to there, and `finish(size)` gives the digest of the whole.
 * The bytes are hashed once, beside the work that writes them, never by the writer's thread.
 */
export class FileHasher {
  readonly #worker: Worker;
  readonly #result: Promise<string>;
  #posted = 0;

  constructor(path: string) {
    this.#worker = startWorker('file-hasher-worker', { path });
    this.#result = new Promise<string>((resolve, reject) => {
      this.#worker.once('message', (m: FileHasherReply) => {
        if ('hex' in m) resolve(m.hex);
        else reject(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}));
        void this.#worker.terminate();
      });
      this.#worker.once('error', (err) => reject(new AirlockError('INTERNAL', 'the hashing worker failed', { where: path, cause: err })));
      this.#worker.once('exit', () => reject(new AirlockError('INTERNAL', 'the hashing worker stopped early', { where: path })));
    });
    this.#result.catch(() => {});
  }

  /** Bytes [0, upTo) of the file are written. Posted in steps of at least `step` bytes. */
  advance(upTo: number, step = 4 << 20): void {
    if (upTo - this.#posted < step) return;
    this.#posted = upTo;
    this.#worker.postMessage({ upTo } satisfies FileHasherRequest);
  }

  /** The file is whole at `size` bytes: its sha256 hex. */
  finish(size: number): Promise<string> {
    this.#worker.postMessage({ end: size } satisfies FileHasherRequest);
    return this.#result;
  }

  /** Stop without a result. */
  async abort(): Promise<void> {
    await this.#worker.terminate();
  }
}
