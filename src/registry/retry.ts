/**
 * When and how long to wait before another attempt. Only idempotent requests (and requests whose
 * body can be sent again) are retried, on connection errors, 408, 429 and 5xx; `Retry-After` wins
 * over the computed backoff, capped so a hostile value cannot park the copy for hours.
 */
export interface RetryPolicy {
  /** Attempts after the first. Default 4. */
  readonly retries: number;
  /** First backoff. Default 250 ms. */
  readonly baseDelayMs: number;
  /** Largest backoff and largest honoured Retry-After. Default 30 s. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 30_000 };

/**
 * Exponential backoff with "equal jitter": half the window fixed, half random, so clients that failed
 * together do not retry together yet the wait never collapses to zero.
 * `attempt` is 0 for the first retry. `random` is injectable for tests.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(window / 2 + random() * (window / 2));
}

/** `Retry-After` (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date. Milliseconds, or undefined. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** The wait before retry number `attempt` (0-based), honouring Retry-After within the cap. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfter?: string, random?: () => number): number {
  const ra = parseRetryAfter(retryAfter);
  if (ra !== undefined) return Math.min(policy.maxDelayMs, ra);
  return backoffDelay(policy, attempt, random);
}

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Sleep that ends early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
