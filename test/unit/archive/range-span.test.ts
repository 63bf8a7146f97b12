import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_GAP, blockHeaderProblem, bytesOfRanges, expandRanges, nextSpan, rangeBytes, rangeEnd, type RangeCursor } from '../../../src/archive/range-span.js';
import { sliceRanges } from '../../../src/bundle/source.js';
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

  it('a range whose raw block header is to be checked (rawBlock) is read with it: at a span\'s start and between ranges', () => {
    // Blocks of 10 bytes behind 3-byte headers; the 2nd and 3rd headers were predicted.
    const ranges = [{ offset: 3, length: 10 }, { offset: 16, length: 10, rawBlock: 10 }, { offset: 29, length: 10, rawBlock: 10 }, { offset: 42, length: 4 }];
    const whole = allSpans(ranges, {});
    assert.deepEqual(whole.map((s) => [s.start, s.length, s.data]), [[3, 43, 34]]);
    assert.deepEqual(whole[0]!.parts, [
      { len: 10, gap: false }, { len: 3, gap: true, rawBlock: 10 }, { len: 10, gap: false }, { len: 3, gap: true, rawBlock: 10 },
      { len: 10, gap: false }, { len: 3, gap: true }, { len: 4, gap: false },
    ]);
    // Cut after each block: a span starts at the header of a block that has one to check, else at its bytes.
    const cut = allSpans(ranges, { maxData: 10 });
    assert.deepEqual(cut.map((s) => [s.start, s.length, s.data]), [[3, 10, 10], [13, 13, 10], [26, 13, 10], [42, 4, 4]]);
    assert.deepEqual(cut[1]!.parts, [{ len: 3, gap: true, rawBlock: 10 }, { len: 10, gap: false }]);
    // A block cut in two: its header is read once, with its first part.
    const half = allSpans(ranges.slice(1, 2), { maxData: 4 });
    assert.deepEqual(half.map((s) => [s.start, s.length, s.data, s.parts.filter((p) => p.rawBlock !== undefined).length]), [[13, 7, 4, 1], [20, 4, 4, 0], [24, 2, 2, 0]]);
    // maxParts reached: the header is not read over, it starts the next span.
    const parts = allSpans(ranges, { maxParts: 1 });
    assert.deepEqual(parts.map((s) => [s.start, s.length]), [[3, 10], [13, 13], [26, 13], [42, 4]]);
  });

  it('blockHeaderProblem: the header of a raw block of that size, not last, passes; anything else is named', () => {
    assert.equal(blockHeaderProblem(Buffer.from([0x00, 0x00, 0x10]), 128 * 1024, 7), undefined);
    assert.equal(blockHeaderProblem(Buffer.from([0x50, 0x00, 0x00]), 10, 7), undefined);
    assert.equal(blockHeaderProblem(Buffer.from([0x01, 0x00, 0x10]), 128 * 1024, 7), 'the block header at byte 7 says a raw block of 131072 bytes (the last of its frame), where the bundle has a raw block of 131072 bytes');
    assert.match(blockHeaderProblem(Buffer.from([0x02, 0x00, 0x10]), 128 * 1024, 7)!, /says a RLE block/);
    assert.match(blockHeaderProblem(Buffer.from([0x04, 0x00, 0x10]), 128 * 1024, 7)!, /says a compressed block/);
    assert.match(blockHeaderProblem(Buffer.from([0x08, 0x00, 0x10]), 128 * 1024, 7)!, /says a raw block of 131073 bytes, where/);
    assert.match(blockHeaderProblem(Buffer.from([0x00, 0x00]), 10, 7)!, /cut short/);
  });

  it('never joins overlapping ranges', () => {
    const spans = allSpans([{ offset: 0, length: 10 }, { offset: 5, length: 10 }], {});
    assert.deepEqual(spans.map((s) => [s.start, s.length]), [[0, 10], [5, 10]]);
  });
});

describe('runs of raw blocks (FileRange.count)', () => {
  // A stored layer as the index holds it: a first block read, a run of predicted ones, a short last one.
  const run: FileRange[] = [{ offset: 10, length: 8 }, { offset: 21, length: 8, rawBlock: 8, count: 5 }, { offset: 76, length: 3 }];
  const blocks = expandRanges(run);
  /** Every byte's file offset and whether a header check precedes it, in read order. */
  const layout = (ranges: readonly FileRange[], limits: Parameters<typeof nextSpan>[2]): [number, number | undefined][] => {
    const out: [number, number | undefined][] = [];
    for (const s of allSpans(ranges, limits)) {
      let at = s.start;
      for (const p of s.parts) {
        if (!p.gap) for (let k = 0; k < p.len; k++) out.push([at + k, undefined]);
        else if (p.rawBlock !== undefined) out.push([at, p.rawBlock]);
        at += p.len;
      }
    }
    return out;
  };

  it('holds length × count bytes, ends after its last block, and writes out as its blocks', () => {
    assert.equal(rangeBytes(run[1]!), 40);
    assert.equal(bytesOfRanges(run), 51);
    assert.equal(rangeEnd(run[1]!), 21 + 5 * 11 - 3);
    assert.deepEqual(blocks.map((r) => [r.offset, r.length, r.rawBlock, r.count]), [
      [10, 8, undefined, undefined], [21, 8, 8, undefined], [32, 8, 8, undefined], [43, 8, 8, undefined], [54, 8, 8, undefined], [65, 8, 8, undefined], [76, 3, undefined, undefined],
    ]);
  });

  it('nextSpan reads a run exactly as its blocks written out: the same bytes, the same headers checked, under every limit', () => {
    for (const limits of [{}, { maxData: 5 }, { maxData: 8 }, { maxData: 13 }, { maxLength: 11 }, { maxLength: 7 }, { maxParts: 2 }, { maxData: 3, maxParts: 4 }]) {
      assert.deepEqual(layout(run, limits), layout(blocks, limits), JSON.stringify(limits));
    }
    // Read whole: one span, a header check before each predicted block.
    const [whole] = allSpans(run, {});
    assert.deepEqual([whole!.start, whole!.data, whole!.parts.filter((p) => p.rawBlock !== undefined).length], [10, 51, 5]);
  });

  it('sliceRanges cuts a run anywhere into the same bytes as its blocks, keeping the header check of a block it starts at', () => {
    for (let from = 0; from <= 51; from++) {
      for (let to = from; to <= 51; to++) {
        const cut = sliceRanges(run, from, to);
        assert.equal(bytesOfRanges(cut), to - from, `${from}-${to}`);
        assert.deepEqual(layout(cut, {}), layout(sliceRanges(blocks, from, to), {}), `${from}-${to}`);
      }
    }
    // Whole blocks in the middle stay a run.
    assert.deepEqual(sliceRanges(run, 8, 40).map((r) => r.count), [4]);
  });
});
