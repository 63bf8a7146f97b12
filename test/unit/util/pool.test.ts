import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { ByteSemaphore } from '../../../src/util/index.js';

describe('ByteSemaphore (util/pool.ts)', () => {
  it('admits work while its bytes fit, then in the order asked as bytes come back', async () => {
    const s = new ByteSemaphore(10);
    const order: string[] = [];
    const a = await s.acquire(6);
    const b = await s.acquire(4);
    assert.equal(s.used, 10);
    const c = s.acquire(5).then((r) => (order.push('c'), r));
    const d = s.acquire(1).then((r) => (order.push('d'), r)); // fits once c does: waits behind it, not past it
    await tick();
    assert.deepEqual(order, []);
    a();
    await tick();
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(s.used, 10);
    a(); // a second release of the same grant changes nothing
    assert.equal(s.used, 10);
    b();
    (await c)();
    (await d)();
    assert.equal(s.used, 0);
  });

  it('lets one item larger than the budget through alone, never beside others', async () => {
    const s = new ByteSemaphore(10);
    const small = await s.acquire(3);
    let big = false;
    const pending = s.acquire(25).then((r) => ((big = true), r));
    await tick();
    assert.equal(big, false);
    small();
    const release = await pending;
    assert.equal(s.used, 25);
    let after = false;
    const next = s.acquire(1).then((r) => ((after = true), r));
    await tick();
    assert.equal(after, false, 'nothing joins an oversized item');
    release();
    (await next)();
    assert.equal(s.used, 0);
  });

  it('never holds more than its budget (or one oversized item) under many concurrent takers', async () => {
    const s = new ByteSemaphore(32);
    let peak = 0;
    const sizes = Array.from({ length: 200 }, (_, i) => (i * 7919) % 17);
    await Promise.all(sizes.map(async (n) => {
      const release = await s.acquire(n);
      peak = Math.max(peak, s.used);
      await tick();
      release();
    }));
    assert.ok(peak <= 32, `peak ${peak}`);
    assert.equal(s.used, 0);
  });
});
