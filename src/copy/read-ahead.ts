import { Readable } from 'node:stream';

/** Bytes read ahead of the uploads, across all of them. */
export class ByteBudget {
  readonly max: number;
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(max: number) {
    if (!(max > 0)) throw new RangeError('a read-ahead budget must be above zero');
    this.max = max;
  }

  /** Bytes taken and not yet released. */
  get used(): number {
    return this.#used;
  }

  get full(): boolean {
    return this.#used >= this.max;
  }

  take(n: number): void {
    this.#used += n;
  }

  release(n: number): void {
    this.#used -= n;
    while (!this.full && this.#waiters.length > 0) this.#waiters.shift()!();
  }

  /** Call `fn` once the budget has room again. */
  whenFree(fn: () => void): void {
    if (!this.full) fn();
    else this.#waiters.push(fn);
  }
}

/**
 * A sequential body read ahead of its consumer, into memory, within a budget shared by all
 * uploads: the source (one entry of the one bundle stream) ends as soon as its bytes are queued
 * here, so the reader moves on to the next entry, and its upload, while this one is still being
 * sent. Two uploads at once keep two of the registry's cores busy where one stream kept one
 * (docs/BENCHMARKS.md). Memory: the budget, plus this stream's own 1 MiB buffer per upload in
 * flight. The bytes are not looked at here: the consumer verifies them.
 */
export class ReadAhead extends Readable {
  readonly #src: Readable;
  readonly #budget: ByteBudget;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #wanting = false;
  #ended = false;

  constructor(src: Readable, budget: ByteBudget) {
    super({ highWaterMark: 1 << 20 });
    this.#src = src;
    this.#budget = budget;
    src.on('data', (c: Buffer) => {
      if (this.destroyed) return;
      this.#queue.push(c);
      this.#queued += c.length;
      budget.take(c.length);
      if (this.#wanting) this.#flush();
      if (budget.full && !this.destroyed) {
        src.pause();
        budget.whenFree(() => src.resume());
      }
    });
    src.once('end', () => {
      this.#ended = true;
      if (this.#wanting) this.#flush();
    });
    src.once('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.#wanting = true;
    this.#flush();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // What is still queued goes back to the budget; the source is let run (its reader skips
    // what nobody reads) rather than left paused forever.
    this.#budget.release(this.#queued);
    this.#queue.length = 0;
    this.#queued = 0;
    if (err) this.#src.destroy(err);
    else this.#src.resume();
    cb(err);
  }

  #flush(): void {
    while (this.#wanting && this.#queue.length > 0) {
      const c = this.#queue.shift()!;
      this.#queued -= c.length;
      this.#budget.release(c.length);
      this.#wanting = this.push(c);
    }
    if (this.#queue.length === 0 && this.#ended) {
      this.#wanting = false;
      this.push(null);
    }
  }
}
