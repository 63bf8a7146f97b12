import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffDelay, DEFAULT_RETRY_POLICY, isRetryableStatus, parseRetryAfter, retryDelay } from '../../../src/registry/index.js';

describe('retry policy', () => {
  it('backs off exponentially with jitter inside [window/2, window], capped', () => {
    const p = { retries: 4, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(p, 0, () => 0), 50);
    assert.equal(backoffDelay(p, 0, () => 1), 100);
    assert.equal(backoffDelay(p, 2, () => 0), 200);
    assert.equal(backoffDelay(p, 10, () => 1), 1000);
    fc.assert(fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
      const d = backoffDelay(DEFAULT_RETRY_POLICY, attempt, () => r);
      const window = Math.min(DEFAULT_RETRY_POLICY.maxDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs * 2 ** attempt);
      return d >= Math.floor(window / 2) && d <= window;
    }));
  });
  it('honours Retry-After in seconds and as an HTTP date, within the cap', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    const now = Date.parse('2024-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('nonsense'), undefined);
    assert.equal(retryDelay({ retries: 1, baseDelayMs: 10, maxDelayMs: 2000 }, 0, '3600'), 2000);
    assert.equal(retryDelay({ retries: 1, baseDelayMs: 10, maxDelayMs: 2000 }, 0, '1'), 1000);
  });
  it('retries 408, 429 and 5xx except 501/505', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of [400, 401, 403, 404, 416, 501, 505]) assert.equal(isRetryableStatus(s), false, String(s));
  });
});
