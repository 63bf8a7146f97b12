import type { FileRange } from './zstd-index.js';

/** zstd.ts RAW_BLOCK_HEADER_BYTES (not imported: this module runs in the hashing workers, which load no zstd binding). */
const RAW_BLOCK_HEADER_BYTES = 3;

/** The entry bytes a range holds: `length`, times `count` for a run of raw blocks (FileRange.count). */
export function rangeBytes(r: FileRange): number {
  return r.count === undefined ? r.length : r.length * r.count;
}

/** The entry bytes of all of `ranges`. */
export function bytesOfRanges(ranges: readonly FileRange[]): number {
  let n = 0;
  for (const r of ranges) n += rangeBytes(r);
  return n;
}

/** Where a range's file bytes end (for a run, its last block's end). */
export function rangeEnd(r: FileRange): number {
  return r.count === undefined ? r.offset + r.length : r.offset + r.count * (r.length + RAW_BLOCK_HEADER_BYTES) - RAW_BLOCK_HEADER_BYTES;
}

/** Block `k` of a run (FileRange.count) as a range of its own, its header still to be checked. */
export function runBlock(r: FileRange, k: number): FileRange {
  return { offset: r.offset + k * (r.length + RAW_BLOCK_HEADER_BYTES), length: r.length, rawBlock: r.length };
}

/** `ranges` with every run written out as its blocks, one range each (for a store of plain spans). */
export function expandRanges(ranges: readonly FileRange[]): FileRange[] {
  const out: FileRange[] = [];
  for (const r of ranges) {
    if (r.count === undefined) out.push(r);
    else for (let k = 0; k < r.count; k++) out.push(runBlock(r, k));
  }
  return out;
}

/**
 * The block of `r` that its data byte `done` lies in: where that byte is in the file, the bytes
 * of the block from there, and the block's unchecked header size when `done` is the block's first
 * byte. A range that is no run is one block.
 */
function blockAt(r: FileRange, done: number): { readonly from: number; readonly left: number; readonly header: number | undefined } {
  if (r.count === undefined) return { from: r.offset + done, left: r.length - done, header: done === 0 ? r.rawBlock : undefined };
  const k = Math.floor(done / r.length);
  const within = done - k * r.length;
  return { from: runBlock(r, k).offset + within, left: r.length - within, header: within === 0 ? r.rawBlock : undefined };
}

/** Gaps up to this size between two ranges (the 3-byte headers between raw zstd blocks) are read over rather than read apart. */
export const MAX_GAP = 64;

/** Where a read of ranges picks up: the range, and the bytes of it already read (for a run, of all its blocks). */
export interface RangeCursor {
  readonly i: number;
  readonly done: number;
}

/** One positional read over ranges: its parts in file order, each bytes of a range or a gap read over. */
export interface SpanPart {
  readonly len: number;
  readonly gap: boolean;
  /**
   * A gap that is the 3-byte header of the raw block the next range lies in, which the index did
   * not read (FileRange.rawBlock): the header of a raw block of this many bytes, not the frame's
   * last. Whoever reads the span checks it ({@link blockHeaderProblem}) before using the bytes.
   */
  readonly rawBlock?: number;
}

export interface RangeSpan {
  /** File offset of the read. */
  readonly start: number;
  readonly parts: readonly SpanPart[];
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
 *
 * A range whose raw block header is still to be checked (FileRange.rawBlock) is read with that
 * header: a span that starts at it starts 3 bytes earlier, and the header is a gap part that
 * says what it must be (SpanPart.rawBlock).
 */
export function nextSpan(ranges: readonly FileRange[], at: RangeCursor, limits: SpanLimits = {}): RangeSpan {
  const maxData = limits.maxData ?? Infinity;
  const maxLength = limits.maxLength ?? Infinity;
  const maxParts = limits.maxParts ?? Infinity;
  let { i, done } = at;
  while (i < ranges.length && ranges[i]!.length === 0) i++;
  const first = ranges[i] ? blockAt(ranges[i]!, done) : undefined;
  const start = first ? first.from - (first.header !== undefined ? RAW_BLOCK_HEADER_BYTES : 0) : 0;
  const parts: SpanPart[] = [];
  let end = start;
  let data = 0;
  while (i < ranges.length) {
    const r = ranges[i]!;
    if (r.length === 0) {
      i++;
      continue;
    }
    const { from, left, header } = blockAt(r, done);
    const room = Math.min(maxData - data, maxLength - (from - start));
    if (room <= 0) break;
    if (from !== end) {
      const gap = from - end;
      if (gap < 0 || gap > MAX_GAP || parts.length >= maxParts) break;
      // An unchecked header is the 3 bytes right before its range (a larger gap has it at its end).
      if (header !== undefined && gap >= RAW_BLOCK_HEADER_BYTES) {
        if (gap > RAW_BLOCK_HEADER_BYTES) parts.push({ len: gap - RAW_BLOCK_HEADER_BYTES, gap: true });
        parts.push({ len: RAW_BLOCK_HEADER_BYTES, gap: true, rawBlock: header });
      } else {
        if (header !== undefined) break; // the header lies before the span's end: read it in the next span
        parts.push({ len: gap, gap: true });
      }
    } else if (header !== undefined) {
      break; // no room for its header: it starts the next span
    }
    const take = Math.min(left, room);
    parts.push({ len: take, gap: false });
    data += take;
    end = from + take;
    done += take;
    if (done === rangeBytes(r)) {
      i++;
      done = 0;
    }
  }
  return { start, parts, data, length: end - start, next: { i, done } };
}

/**
 * Why `bytes` (3, read at file offset `at`) are not the header of a raw block of `size` bytes that
 * is not its frame's last (RFC 8878 §3.1.1.2: Last_Block bit 0, Block_Type 0 = Raw_Block,
 * Block_Size), the header the bundle writer puts before every block of a stored layer
 * (zstd.ts rawBlockHeader); undefined when they are.
 */
export function blockHeaderProblem(bytes: Uint8Array, size: number, at: number): string | undefined {
  if (bytes.length !== RAW_BLOCK_HEADER_BYTES) return `the block header at byte ${at} is cut short`;
  const v = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16);
  if (v === size * 8) return undefined;
  const type = ['raw', 'RLE', 'compressed', 'reserved'][(v >> 1) & 3]!;
  return `the block header at byte ${at} says a ${type} block of ${v >>> 3} bytes${v & 1 ? ' (the last of its frame)' : ''}, where the bundle has a raw block of ${size} bytes`;
}
