import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_GAP, nextSpan, type RangeCursor } from '../../../src/archive/range-span.js';
import type { FileRange } from '../../../src/archive/index.js';

/** Every span until the ranges are read, with the limits given. */
function allSpans(ranges: readonly FileRange[], limits: Parameters<typeof nextSpan>[2]): ReturnType<typeof nextSpan>[] {
  const out: ReturnType<typeof nextSpan>[] = [];
  let at: RangeCursor = { i: 0, done: 0 };
  while (at.i < ranges.length) {
    const s = nextSpan(ranges, at, limits);
    out.push(s);
    at = s.next;
  }
  return out;
}

describe('nextSpan (archive/range-span.ts)', () => {
  it('reads over small gaps (raw zstd block headers) and stops at a larger one', () => {
    const ranges = [{ offset: 3, length: 10 }, { offset: 16, length: 10 }, { offset: 26 + MAX_GAP + 1, length: 5 }];
    const spans = allSpans(ranges, {});
    assert.deepEqual(spans.map((s) => [s.start, s.length, s.data]), [[3, 23, 20], [26 + MAX_GAP + 1, 5, 5]]);
    assert.deepEqual(spans[0]!.parts, [{ len: 10, gap: false }, { len: 3, gap: true }, { len: 10, gap: false }]);
  });

  it('cuts a range at maxData (data only) and at maxLength (gaps included), and picks up where it stopped', () => {
    const ranges = [{ offset: 0, length: 10 }, { offset: 13, length: 10 }];
    const byData = allSpans(ranges, { maxData: 15 });
    assert.deepEqual(byData.map((s) => [s.start, s.length, s.data]), [[0, 18, 15], [18, 5, 5]]);
    const byLength = allSpans(ranges, { maxLength: 15 });
    assert.deepEqual(byLength.map((s) => [s.start, s.length, s.data]), [[0, 15, 12], [15, 8, 8]]);
    for (const spans of [byData, byLength]) assert.equal(spans.reduce((n, s) => n + s.data, 0), 20);
  });

  it('reads no gap once the span has maxParts parts, and passes over empty ranges', () => {
    const ranges = [{ offset: 0, length: 4 }, { offset: 5, length: 0 }, { offset: 5, length: 4 }, { offset: 10, length: 4 }];
    const spans = allSpans(ranges, { maxParts: 3 });
    assert.deepEqual(spans.map((s) => [s.start, s.length, s.data]), [[0, 9, 8], [10, 4, 4]]);
  });

  it('never joins overlapping ranges', () => {
    const spans = allSpans([{ offset: 0, length: 10 }, { offset: 5, length: 10 }], {});
    assert.deepEqual(spans.map((s) => [s.start, s.length]), [[0, 10], [5, 10]]);
  });
});
