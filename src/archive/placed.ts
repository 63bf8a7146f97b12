import { Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { AirlockError, SizeMismatchError } from '../errors.js';
import { releaseReceived } from '../util/index.js';
import { TAR_END_BYTES, encodeFileHeader, paddingOf } from './tar-header.js';
import type { FileRange } from './zstd-index.js';
import {
  RAW_BLOCK_HEADER_BYTES, RAW_BLOCK_MAX, RAW_FRAME_HEADER, RAW_LAST_EMPTY, compressFrame, rawBlockHeader, rawBlocksSize,
} from './zstd.js';

/**
 * A `.tar` or `.tar.zst` laid out before its large entries exist, so that they can be written
 * straight into place, several at once, as they arrive (one write of each byte; no staging copy).
 *
 * Every entry's size is known in advance. Entries with `data` (the front, manifests, configs)
 * are written up front. Each `region` entry gets a fixed byte range: in a `.tar` its data as
 * is; in a `.tar.zst` a raw zstd frame of its own (RFC 8878 raw blocks of RAW_BLOCK_MAX, each
 * with a 3-byte header), the same encoding the streaming writer uses for already-compressed
 * layers, so readers see one valid zstd stream either way. The tar bytes between regions
 * (headers, padding, in-memory entries) go into ordinary compressed frames, made here.
 * Whatever follows the last region (the tail: entries whose compressed size cannot be known in
 * advance, and the end-of-archive blocks) is written as a stream from `tailOffset` on.
 */
export interface PlacedEntry {
  readonly path: string;
  readonly size: number;
  /** The entry's bytes, when held in memory. */
  readonly data?: Buffer;
}

export interface PlacedRegion {
  readonly path: string;
  /** Payload (entry data) bytes. */
  readonly size: number;
  /** File offset of the region's first byte. */
  readonly offset: number;
  /** File bytes the region takes (size plus raw-block headers in a .tar.zst). */
  readonly length: number;
  readonly blocks: boolean;
}

export interface ArchiveLayout {
  readonly form: 'tar' | 'tar.zst';
  /** Bytes to write at fixed offsets before anything else. */
  readonly literals: readonly { readonly offset: number; readonly bytes: Buffer }[];
  /** In file order. */
  readonly regions: readonly PlacedRegion[];
  /** Where the tail stream starts. */
  readonly tailOffset: number;
  /** Tar bytes the tail stream must begin with (the last region's padding). */
  readonly tailPrefix: Buffer;
}

/**
 * Lay out `entries` (in archive order). An entry without `data` and with a size above zero
 * becomes a region; the tail (written later with {@link createTailStream}'s caller) follows.
 */
export function layoutArchive(entries: readonly PlacedEntry[], form: 'tar' | 'tar.zst', level: number): ArchiveLayout {
  const literals: { offset: number; bytes: Buffer }[] = [];
  const regions: PlacedRegion[] = [];
  let offset = 0;
  let pending: Buffer[] = [];
  let lead: Buffer | undefined; // raw zstd bytes that close the previous region's frame
  const emit = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    literals.push({ offset, bytes });
    offset += bytes.length;
  };
  for (const e of entries) {
    pending.push(encodeFileHeader(e.path, e.size));
    if (e.data === undefined && e.size > 0) {
      if (form === 'tar.zst') {
        emit(Buffer.concat([...(lead ? [lead] : []), compressFrame(Buffer.concat(pending), level), RAW_FRAME_HEADER]));
        lead = RAW_LAST_EMPTY;
      } else {
        emit(Buffer.concat(pending));
      }
      const length = form === 'tar.zst' ? rawBlocksSize(e.size) : e.size;
      regions.push({ path: e.path, size: e.size, offset, length, blocks: form === 'tar.zst' });
      offset += length;
      pending = [Buffer.alloc(paddingOf(e.size))];
      continue;
    }
    if (e.data !== undefined) {
      if (e.data.length !== e.size) throw new SizeMismatchError(e.path, e.size, e.data.length, { where: `tar entry ${e.path}` });
      pending.push(e.data);
    }
    pending.push(Buffer.alloc(paddingOf(e.size)));
  }
  if (lead) emit(lead);
  return { form, literals, regions, tailOffset: offset, tailPrefix: Buffer.concat(pending) };
}

/**
 * Where region `r`'s payload lies in the file, in order: the region itself in a `.tar`, one
 * range per raw block (after its 3-byte header) in a `.tar.zst`. The same ranges that indexing
 * the written file finds (zstd-index.ts, locate.ts), known without reading it back (the index
 * also marks the blocks whose headers it predicted: FileRange.rawBlock).
 */
export function regionRanges(r: PlacedRegion): FileRange[] {
  if (!r.blocks) return r.size > 0 ? [{ offset: r.offset, length: r.size }] : [];
  const out: FileRange[] = [];
  const stride = RAW_BLOCK_MAX + RAW_BLOCK_HEADER_BYTES;
  for (let k = 0, done = 0; done < r.size; k++, done += RAW_BLOCK_MAX) {
    out.push({ offset: r.offset + k * stride + RAW_BLOCK_HEADER_BYTES, length: Math.min(RAW_BLOCK_MAX, r.size - done) });
  }
  return out;
}

/** Positional writes into one open file, with the contiguous written prefix tracked. */
export class PlacedFile {
  readonly fh: FileHandle;
  readonly layout: ArchiveLayout;
  readonly #done: number[];
  #firstOpen = 0;
  #tailWritten = 0;
  readonly #onPrefix: (prefix: number) => void;
  #written = 0;

  constructor(fh: FileHandle, layout: ArchiveLayout, onPrefix: (prefix: number) => void = () => {}) {
    this.fh = fh;
    this.layout = layout;
    this.#done = layout.regions.map(() => 0);
    this.#onPrefix = onPrefix;
  }

  /** Bytes written so far (literals, regions, tail). */
  get written(): number {
    return this.#written;
  }

  async writeLiterals(): Promise<void> {
    for (const l of this.layout.literals) await writeAllAt(this.fh, [l.bytes], l.offset);
    this.#written += this.layout.literals.reduce((n, l) => n + l.bytes.length, 0);
    this.#advance();
  }

  /** A sink for region `index`'s payload, in order from its first byte. */
  regionSink(index: number): Writable {
    const region = this.layout.regions[index];
    if (!region) throw new AirlockError('INTERNAL', `no region ${index} in the archive layout`);
    let pos = 0; // payload bytes accepted
    return new Writable({
      highWaterMark: 1 << 20,
      writev: (chunks, cb) => {
        const bufs = chunks.map((c) => c.chunk as Buffer);
        const n = bufs.reduce((s, b) => s + b.length, 0);
        if (pos + n > region.size) {
          cb(new SizeMismatchError(region.path, region.size, pos + n, { where: `tar entry ${region.path}` }));
          return;
        }
        const { iov, fileStart, fileBytes } = region.blocks ? blockIovecs(region, pos, bufs) : { iov: bufs, fileStart: region.offset + pos, fileBytes: n };
        pos += n;
        writeAllAt(this.fh, iov, fileStart).then(() => {
          // The bytes are in the page cache now: chunks lent by a download's receive pool go back.
          for (const b of bufs) releaseReceived(b);
          this.#written += fileBytes;
          this.#done[index] = fileStart + fileBytes - region.offset;
          this.#advance();
          cb();
        }, (err: unknown) => cb(err as Error));
      },
      final: (cb) => {
        cb(pos === region.size ? null : new SizeMismatchError(region.path, region.size, pos, { where: `tar entry ${region.path}` }));
      },
    });
  }

  /** Restart region `index` from its first byte (a failed source retried from the start). */
  resetRegion(index: number): void {
    this.#done[index] = 0;
  }

  /** A sink for the tail, written in order from `tailOffset`. */
  tailSink(): Writable {
    return new Writable({
      highWaterMark: 1 << 20,
      writev: (chunks, cb) => {
        const bufs = chunks.map((c) => c.chunk as Buffer);
        const n = bufs.reduce((s, b) => s + b.length, 0);
        const at = this.layout.tailOffset + this.#tailWritten;
        this.#tailWritten += n;
        writeAllAt(this.fh, bufs, at).then(() => {
          this.#written += n;
          this.#advance();
          cb();
        }, (err: unknown) => cb(err as Error));
      },
    });
  }

  /** The archive's whole size, once the tail is written. */
  get size(): number {
    return this.layout.tailOffset + this.#tailWritten;
  }

  /** End of the contiguous prefix of the file that is written. */
  get prefix(): number {
    const regions = this.layout.regions;
    while (this.#firstOpen < regions.length && this.#done[this.#firstOpen] === regions[this.#firstOpen]!.length) this.#firstOpen++;
    if (this.#firstOpen < regions.length) {
      const r = regions[this.#firstOpen]!;
      return r.offset + this.#done[this.#firstOpen]!;
    }
    return this.layout.tailOffset + this.#tailWritten;
  }

  #advance(): void {
    this.#onPrefix(this.prefix);
  }
}

/**
 * The iovecs that put payload bytes [pos, pos + n) of a raw-block region in place: each block's
 * 3-byte header goes in front of the block's first byte. Contiguous in the file.
 */
function blockIovecs(region: PlacedRegion, pos: number, bufs: readonly Buffer[]): { iov: Buffer[]; fileStart: number; fileBytes: number } {
  const stride = RAW_BLOCK_MAX + RAW_BLOCK_HEADER_BYTES;
  const first = Math.floor(pos / RAW_BLOCK_MAX);
  const within = pos % RAW_BLOCK_MAX;
  const fileStart = region.offset + first * stride + (within === 0 ? 0 : RAW_BLOCK_HEADER_BYTES + within);
  const iov: Buffer[] = [];
  let p = pos;
  let fileBytes = 0;
  for (const b of bufs) {
    let off = 0;
    while (off < b.length) {
      const inBlock = p % RAW_BLOCK_MAX;
      if (inBlock === 0) {
        const header = rawBlockHeader(Math.min(RAW_BLOCK_MAX, region.size - p));
        iov.push(header);
        fileBytes += header.length;
      }
      const take = Math.min(b.length - off, RAW_BLOCK_MAX - inBlock);
      iov.push(off === 0 && take === b.length ? b : b.subarray(off, off + take));
      fileBytes += take;
      off += take;
      p += take;
    }
  }
  return { iov, fileStart, fileBytes };
}

/** Linux takes at most IOV_MAX (1024) buffers per writev. */
const IOV_BATCH = 512;

/** Write every byte of `bufs` at `position`, across short writes. */
export async function writeAllAt(fh: FileHandle, bufs: readonly Buffer[], position: number): Promise<void> {
  let list = bufs.filter((b) => b.length > 0);
  let at = position;
  while (list.length > 0) {
    const batch = list.slice(0, IOV_BATCH);
    let { bytesWritten } = await fh.writev(batch, at);
    at += bytesWritten;
    const rest: Buffer[] = [];
    for (const b of batch) {
      if (bytesWritten >= b.length) bytesWritten -= b.length;
      else {
        rest.push(bytesWritten > 0 ? b.subarray(bytesWritten) : b);
        bytesWritten = 0;
      }
    }
    list = [...rest, ...list.slice(batch.length)];
  }
}

/** The tar bytes that end an archive (two zero blocks). */
export const TAR_END = Buffer.alloc(TAR_END_BYTES);
