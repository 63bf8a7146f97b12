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
