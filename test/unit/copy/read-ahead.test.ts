import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { ByteBudget, ReadAhead } from '../../../src/copy/read-ahead.js';

function source(chunks: Buffer[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}

describe('ReadAhead (sequential bodies read ahead of their uploads, within one budget)', () => {
  it('gives every byte in order, and the source ends before a slow consumer has read it all', async () => {
    const chunks = Array.from({ length: 20 }, () => randomBytes(10_000));
    const src = source(chunks);
    const budget = new ByteBudget(1 << 20);
    const ahead = new ReadAhead(src, budget);
    let srcEndedFirst = false;
    src.once('end', () => {
      srcEndedFirst = true;
    });
    const got: Buffer[] = [];
    let sawEndEarly = false;
    await pipeline(ahead, new Writable({
      highWaterMark: 1,
      write(c: Buffer, _e, cb) {
        got.push(c);
        if (got.length === 2) sawEndEarly = srcEndedFirst;
        setTimeout(cb, 2);
      },
    }));
    assert.ok(Buffer.concat(got).equals(Buffer.concat(chunks)));
    assert.ok(sawEndEarly, 'the source was drained into memory while the consumer was still on its second chunk');
    assert.equal(budget.full, false);
  });

  it('never holds much more than the budget: the source waits until the consumer frees room', async () => {
    // Beyond the stream's own 1 MiB buffer, the queue is what the budget bounds.
    const chunks = Array.from({ length: 60 }, () => Buffer.alloc(100_000, 1));
    const budget = new ByteBudget(1_000_000);
    const ahead = new ReadAhead(source(chunks), budget);
    let maxQueued = 0;
    let total = 0;
    await pipeline(ahead, new Writable({
      write(c: Buffer, _e, cb) {
        total += c.length;
        setTimeout(() => {
          maxQueued = Math.max(maxQueued, budget.used);
          cb();
        }, 1);
      },
    }));
    assert.equal(total, 6_000_000);
    assert.ok(maxQueued > 0 && maxQueued <= 1_000_000 + 100_000, `at most the budget and one chunk queued (saw ${maxQueued})`);
    assert.equal(budget.full, false, 'everything given back');
  });

  it('passes a source error on, and a consumer that gives up returns its bytes to the budget', async () => {
    const budget = new ByteBudget(1 << 20);
    const failing = new Readable({ read() { this.destroy(new Error('broken entry')); } });
    await assert.rejects(pipeline(new ReadAhead(failing, budget), new Writable({ write(_c, _e, cb) { cb(); } })), /broken entry/);
    const src = source(Array.from({ length: 10 }, () => Buffer.alloc(100_000)));
    const ahead = new ReadAhead(src, budget);
    await new Promise((r) => setTimeout(r, 20));
    ahead.destroy();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(budget.full, false);
    assert.throws(() => new ByteBudget(0), RangeError);
  });
});
