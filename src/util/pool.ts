/**
 * Run `worker` over `items` with at most `concurrency` in flight. The first failure stops new
 * work from starting and is rethrown once everything in flight has settled, so no task is left
 * running behind the caller's back.
 */
export async function forEachConcurrent<T>(
  items: Iterable<T>,
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const it = items[Symbol.iterator]();
  let index = 0;
  let failed = false;
  let firstError: unknown;
  const lanes: Promise<void>[] = [];
  const lane = async (): Promise<void> => {
    for (;;) {
      if (failed || signal?.aborted) return;
      const next = it.next();
      if (next.done) return;
      const i = index++;
      try {
        await worker(next.value, i);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
        return;
      }
    }
  };
  for (let i = 0; i < Math.max(1, concurrency); i++) lanes.push(lane());
  await Promise.all(lanes);
  if (failed) throw firstError;
  signal?.throwIfAborted();
}

/** A counting semaphore for limiting concurrent work that is not a simple list. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(count: number) {
    this.#free = Math.max(1, count);
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * A budget of bytes held at once, across concurrent work: `acquire(n)` waits until `n` more fit
 * (or nothing is held: one item larger than the budget still goes, alone), in the order asked.
 * Bounds what holding work in memory costs by the budget, not by how many run at once.
 */
export class ByteSemaphore {
  readonly max: number;
  #used = 0;
  readonly #waiters: { readonly n: number; readonly go: () => void }[] = [];
  constructor(max: number) {
    this.max = Math.max(0, max);
  }
  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }
  async acquire(n: number): Promise<() => void> {
    if (this.#waiters.length === 0 && this.#fits(n)) this.#used += n;
    else await new Promise<void>((go) => this.#waiters.push({ n, go }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= n;
      while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.n)) {
        const w = this.#waiters.shift()!;
        this.#used += w.n;
        w.go();
      }
    };
  }
  #fits(n: number): boolean {
    return this.#used === 0 || this.#used + n <= this.max;
  }
}
