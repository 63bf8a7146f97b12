import type { FileRange } from './zstd-index.js';

/** Gaps up to this size between two ranges (the 3-byte headers between raw zstd blocks) are read over rather than read apart. */
export const MAX_GAP = 64;

/** Where a read of ranges picks up: the range, and the bytes of it already read. */
export interface RangeCursor {
  readonly i: number;
  readonly done: number;
}

/** One positional read over ranges: its parts in file order, each bytes of a range or a gap read over. */
export interface RangeSpan {
  /** File offset of the read. */
  readonly start: number;
  readonly parts: readonly { readonly len: number; readonly gap: boolean }[];
  /** Bytes of the ranges in it (parts that are not gaps). */
  readonly data: number;
  /** Bytes to read: data and gaps. */
  readonly length: number;
  /** Where the next read picks up. */
  readonly next: RangeCursor;
}

export interface SpanLimits {
  /** Bytes of the ranges at most. */
  readonly maxData?: number;
  /** Bytes to read at most, gaps included (a buffer's size). */
  readonly maxLength?: number;
  /** No gap is read over once the span has this many parts (a readv's iovec count). */
  readonly maxParts?: number;
}

/**
 * The next read over `ranges` from `at`: whole or partial ranges, gathered with the small gaps
 * between them (up to MAX_GAP) into one span of the file, within `limits`. Used by the range
 * reader (a readv per chunk, the gaps into a scratch buffer) and the range hasher's workers (one
 * read into their buffer). Empty ranges are passed over. Call only while `at.i < ranges.length`.
 */
export function nextSpan(ranges: readonly FileRange[], at: RangeCursor, limits: SpanLimits = {}): RangeSpan {
  const maxData = limits.maxData ?? Infinity;
  const maxLength = limits.maxLength ?? Infinity;
  const maxParts = limits.maxParts ?? Infinity;
  let { i, done } = at;
  while (i < ranges.length && ranges[i]!.length === 0) i++;
  const start = i < ranges.length ? ranges[i]!.offset + done : 0;
  const parts: { len: number; gap: boolean }[] = [];
  let end = start;
  let data = 0;
  while (i < ranges.length) {
    const r = ranges[i]!;
    if (r.length === 0) {
      i++;
      continue;
    }
    const from = r.offset + done;
    const room = Math.min(maxData - data, maxLength - (from - start));
    if (room <= 0) break;
    if (from !== end) {
      const gap = from - end;
      if (gap < 0 || gap > MAX_GAP || parts.length >= maxParts) break;
      parts.push({ len: gap, gap: true });
    }
    const take = Math.min(r.length - done, room);
    parts.push({ len: take, gap: false });
    data += take;
    end = from + take;
    done += take;
    if (done === r.length) {
      i++;
      done = 0;
    }
  }
  return { start, parts, data, length: end - start, next: { i, done } };
}
