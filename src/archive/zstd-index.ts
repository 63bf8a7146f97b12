import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import binding from 'zstd-napi/binding.js';
import { BLOCK_SIZE, TarHeaderDecoder, paddingOf } from './tar-header.js';
import { DEFAULT_MAX_WINDOW_LOG, RAW_BLOCK_MAX, RAW_FRAME_HEADER, ZSTD_MAGIC } from './zstd.js';

/** A span of file bytes. */
export interface FileRange {
  readonly offset: number;
  readonly length: number;
  /**
   * Set when the bytes lie in a raw zstd block of this many bytes whose 3-byte header, right
   * before `offset`, the index did not read (indexZstdTar predicts the blocks of a stored layer):
   * whoever reads the range reads that header with it and refuses the file unless it is the header
   * of a raw block of this size, not its frame's last (range-span.ts blockHeaderProblem).
   */
  readonly rawBlock?: number;
  /**
   * Set (≥ 2) on a run of that many raw blocks of `length` bytes each (`rawBlock` === `length`),
   * back to back: block k's bytes at `offset + k × (length + 3)`, each after its own unchecked
   * header. One object for a stored layer's blocks instead of one per 128 KiB block, so the index
   * of a bundle does not grow with its bytes (a 100 GB bundle's would hold ~800,000 ranges).
   * The range's bytes are `length × count` (range-span.ts rangeBytes), read block by block (nextSpan).
   */
  readonly count?: number;
}

export interface ZstdTarEntry {
  readonly size: number;
  /**
   * Where the entry's bytes lie in the file, in order, when they are all in raw zstd blocks
   * (stored as is): random access by plain reads. Undefined when any of them is compressed.
   */
  readonly ranges: readonly FileRange[] | undefined;
  /** The entry's bytes, when all of them are in compressed frames and there are at most `maxHeld`. */
  readonly data?: Buffer;
}

export type ZstdTarIndex =
  | { readonly ok: true; readonly entries: ReadonlyMap<string, ZstdTarEntry> }
  /** Not indexable (damaged, not a tar, too much compressed content): read it front to back instead. */
  | { readonly ok: false; readonly reason: string };

export interface IndexZstdTarOptions {
  /** Give up once compressed frames would decode to more than this. Default 64 MiB. */
  readonly maxDecoded?: number;
  readonly maxWindowLog?: number;
  /** Entries of compressed frames up to this size are kept (`data`). Default 1 MiB. */
  readonly maxHeld?: number;
  /**
   * Called with each entry as soon as it is indexed, before the rest of the file is (a caller can
   * start reading it early). Such an entry is no promise: the whole file may still answer `ok: false`.
   */
  readonly onEntry?: (name: string, entry: ZstdTarEntry) => void;
}

/** Frames of skippable content (RFC 8878 §3.1.2): magic 0x184D2A50–5F, a 4-byte size, the data. */
const isSkippableMagic = (m: number): boolean => (m & 0xfffffff0) === 0x184d2a50;
const MAGIC = ZSTD_MAGIC.readUInt32LE(0);
const DID_BYTES = [0, 1, 2, 4] as const;
const FCS_BYTES = [0, 2, 4, 8] as const;

class NotIndexable extends Error {}

interface Block {
  /** File offset of the block's content (after its 3-byte header). */
  readonly at: number;
  readonly size: number;
  /**
   * Predicted, not read: this many blocks of `size` bytes, back to back (3-byte header, block),
   * whose headers readers check (FileRange.rawBlock). One entry for the run, so that no loop of
   * this function runs once per block: V8 would compile the whole function on stack (OSR) for it,
   * ~80 ms of a compiler thread's CPU in every import.
   */
  readonly predicted?: number;
}

/**
 * Where each entry of a .tar.zst lies, when its bytes are stored in raw blocks, as the bundle
 * writer stores every already-compressed layer (zstd.ts RAW_FRAME_HEADER, placed.ts): the
 * entry can then be read in place, several at once, like an entry of a plain .tar (tar-index.ts).
 *
 * Walks the file frame by frame (RFC 8878 §3.1.1). Frames of raw blocks are not read, only their
 * 3-byte block headers; any other frame is decoded in memory to
 * follow the tar headers in it (the bundle's front, headers and padding: a few MB), up to
 * `maxDecoded`. Entries follow the same policy as readTarEntries (TarHeaderDecoder). Anything
 * unusual (damage, truncation, a huge compressed frame) answers `ok: false`: the caller reads the
 * file front to back instead, which reports damage with its usual errors. The bytes are not
 * verified here: readers check them against their digests.
 *
 * A stored layer's frame, as the bundle writer writes it (the frame header RAW_FRAME_HEADER, the
 * layer in raw blocks of RAW_BLOCK_MAX, the last one shorter, then an empty last block), is not
 * walked header by header: when the frame's first block is the raw block the layer's size says
 * (the tar header before it gave the size), the headers of the full blocks after it are predicted,
 * and only the layer's last block header and the frame's end are read. A read per 128 KiB (~13,000
 * for the large bench bundle, ~0.1 CPU-s) becomes a few per layer. The predicted headers are
 * checked by whoever reads the bytes (FileRange.rawBlock: the range reader and the hashing workers
 * read them with the blocks anyway), so a damaged or foreign header is still refused, as
 * BUNDLE_UNREADABLE, before any byte of its block is used.
 */
export function indexZstdTar(path: string, opts: IndexZstdTarOptions = {}): ZstdTarIndex {
  const maxDecoded = opts.maxDecoded ?? 64 << 20;
  const maxWindowLog = opts.maxWindowLog ?? DEFAULT_MAX_WINDOW_LOG;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return { ok: false, reason: `cannot open: ${(err as Error).message}` };
  }
  try {
    const size = fstatSync(fd).size;
    const small = Buffer.allocUnsafe(16);
    const readAt = (buf: Buffer, n: number, pos: number): Buffer => {
      if (pos + n > size) throw new NotIndexable(`it ends inside a frame (byte ${pos})`);
      let got = 0;
      while (got < n) {
        const k = readSync(fd, buf, got, n - got, pos + got);
        if (k === 0) throw new NotIndexable('it changed while it was read');
        got += k;
      }
      return buf.subarray(0, n);
    };
    const walker = new TarWalker(path, opts.maxHeld ?? 1 << 20, (pos, n) => Buffer.from(readAt(Buffer.allocUnsafe(n), n, pos)), opts.onEntry);
    let decoded = 0;
    let pos = 0;
    while (!walker.done) {
      if (pos >= size) throw new NotIndexable('it ends before the end-of-archive marker');
      const magic = readAt(small, 4, pos).readUInt32LE(0);
      if (isSkippableMagic(magic)) {
        pos += 8 + readAt(small, 8, pos).readUInt32LE(4);
        continue;
      }
      if (magic !== MAGIC) throw new NotIndexable(`no zstd frame at byte ${pos}`);
      const fh = readAt(small, 6, pos);
      const d = fh[4]!;
      const ours = fh.equals(RAW_FRAME_HEADER);
      if (d & 0x08) throw new NotIndexable(`a reserved bit is set in the frame at byte ${pos}`);
      const single = (d >> 5) & 1;
      const fcsFlag = d >> 6;
      const headerBytes = 5 + (single ? 0 : 1) + DID_BYTES[d & 3]! + (fcsFlag === 0 ? single : FCS_BYTES[fcsFlag]!);
      const checksum = (d >> 2) & 1;
      // Blocks: their headers only.
      const blocks: Block[] = [];
      let allRaw = true;
      let at = pos + headerBytes;
      // The bytes of a layer the frame starts with, when it is one of the writer's stored layers.
      const layer = ours ? walker.dataLeft : 0;
      for (;;) {
        const h = readAt(small, 3, at);
        const v = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        const type = (v >> 1) & 3;
        const blockSize = v >>> 3;
        if (type === 3) throw new NotIndexable(`a reserved block type at byte ${at}`);
        // Block_Maximum_Size is at most 128 KiB (RFC 8878 §3.1.1.2.4): zstd refuses larger blocks.
        if (blockSize > RAW_BLOCK_MAX) throw new NotIndexable(`a block of ${blockSize} bytes at byte ${at}`);
        const stored = type === 1 ? 1 : blockSize;
        if (type !== 0) allRaw = false;
        blocks.push({ at: at + 3, size: blockSize });
        at += 3 + stored;
        if (at > size) throw new NotIndexable(`it ends inside a frame (byte ${pos})`);
        if (v & 1) break;
        // The layer's first block, as the writer writes it (raw, full, not last): the full blocks
        // after it are predicted, up to the layer's last block, whose header is read again.
        if (blocks.length === 1 && layer > 2 * RAW_BLOCK_MAX && v === RAW_BLOCK_MAX * 8) {
          const full = Math.ceil(layer / RAW_BLOCK_MAX) - 2;
          blocks.push({ at: at + 3, size: RAW_BLOCK_MAX, predicted: full });
          at += full * (3 + RAW_BLOCK_MAX);
          if (at > size) throw new NotIndexable(`it ends inside a frame (byte ${pos})`);
        }
      }
      const end = at + (checksum ? 4 : 0);
      if (end > size) throw new NotIndexable(`it ends inside a frame (byte ${pos})`);
      if (allRaw) {
        for (const b of blocks) {
          if (walker.done) break;
          if (b.predicted !== undefined) walker.predicted(b.at, b.size, b.predicted);
          else if (b.size > 0) walker.raw(b.at, b.size);
        }
      } else {
        if (end - pos > maxDecoded) throw new NotIndexable(`a compressed frame of ${end - pos} bytes at byte ${pos}`);
        const frame = readAt(Buffer.allocUnsafe(end - pos), end - pos, pos);
        for (const piece of decodeFrame(frame, maxWindowLog, maxDecoded - decoded, pos)) {
          decoded += piece.length;
          if (!walker.done) walker.mem(piece);
        }
      }
      pos = end;
    }
    return { ok: true, entries: walker.entries };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    closeSync(fd);
  }
}

/** Decoder output, copied out at its size: most frames here decode to a few KB. */
const scratch = Buffer.allocUnsafe(1 << 20);

function decodeFrame(frame: Buffer, maxWindowLog: number, room: number, at: number): Buffer[] {
  const dctx = new binding.DCtx();
  dctx.setParameter(binding.DParameter.windowLogMax, maxWindowLog);
  const out: Buffer[] = [];
  let input = frame;
  for (;;) {
    const [ret, produced, consumed] = dctx.decompressStream(scratch, input);
    input = input.subarray(consumed);
    if (produced > 0) {
      room -= produced;
      if (room < 0) throw new NotIndexable(`compressed frames decode to too much (the frame at byte ${at})`);
      out.push(Buffer.from(scratch.subarray(0, produced)));
    }
    if (ret === 0 && input.length === 0) return out;
    if (produced === 0 && consumed === 0) throw new NotIndexable(`the frame at byte ${at} does not decode`);
  }
}

interface Building {
  readonly path: string;
  readonly size: number;
  /** While every byte so far is in raw blocks. */
  ranges: FileRange[] | undefined;
  /** While every byte so far is decoded, and the entry is small. */
  held: Buffer[] | undefined;
}

/** The tar header state machine fed with decoded bytes and with raw spans of the file. */
class TarWalker {
  readonly entries = new Map<string, ZstdTarEntry>();
  readonly #decoder: TarHeaderDecoder;
  readonly #read: (pos: number, n: number) => Buffer;
  readonly #maxHeld: number;
  #state: 'header' | 'data' | 'pad' | 'meta' | 'skip' | 'end' = 'header';
  /** Bytes left in the current state. */
  #left = BLOCK_SIZE;
  #acc: Buffer[] = [];
  /** Tar offset of the next byte. */
  #at = 0;
  #headerAt = 0;
  #cur: Building | undefined;

  readonly #onEntry: ((name: string, entry: ZstdTarEntry) => void) | undefined;

  constructor(where: string, maxHeld: number, read: (pos: number, n: number) => Buffer, onEntry?: (name: string, entry: ZstdTarEntry) => void) {
    this.#decoder = new TarHeaderDecoder(where);
    this.#read = read;
    this.#maxHeld = maxHeld;
    this.#onEntry = onEntry;
  }

  get done(): boolean {
    return this.#state === 'end';
  }

  /** Bytes of the current entry still to come, when its data is next; else 0. */
  get dataLeft(): number {
    return this.#state === 'data' ? this.#left : 0;
  }

  mem(bytes: Buffer): void {
    while (bytes.length > 0 && this.#state !== 'end') {
      const n = Math.min(bytes.length, this.#left);
      if (this.#state === 'header' || this.#state === 'meta') this.#acc.push(bytes.subarray(0, n));
      else if (this.#state === 'data') {
        this.#cur!.ranges = undefined;
        this.#cur!.held?.push(bytes.subarray(0, n));
      }
      bytes = bytes.subarray(n);
      this.#advance(n);
    }
  }

  /**
   * `count` blocks of `size` bytes each, the first at `fileAt`, whose headers were predicted, not
   * read: all of them entry data, by construction (indexZstdTar), each a range that says so.
   */
  predicted(fileAt: number, size: number, count: number): void {
    if (this.#state !== 'data' || this.#left <= count * size) throw new NotIndexable(`the predicted blocks at byte ${fileAt} are not all layer bytes`);
    const ranges = this.#cur!.ranges;
    this.#cur!.held = undefined;
    if (ranges && count > 0) ranges.push(count === 1 ? { offset: fileAt, length: size, rawBlock: size } : { offset: fileAt, length: size, rawBlock: size, count });
    this.#left -= count * size;
    this.#at += count * size;
  }

  raw(fileAt: number, length: number): void {
    while (length > 0 && this.#state !== 'end') {
      const n = Math.min(length, this.#left);
      if (this.#state === 'header' || this.#state === 'meta') this.#acc.push(this.#read(fileAt, n));
      else if (this.#state === 'data') {
        this.#cur!.ranges?.push({ offset: fileAt, length: n });
        this.#cur!.held = undefined;
      }
      fileAt += n;
      length -= n;
      this.#advance(n);
    }
  }

  #advance(n: number): void {
    this.#left -= n;
    this.#at += n;
    while (this.#left === 0 && this.#state !== 'end') this.#next();
  }

  #next(): void {
    switch (this.#state) {
      case 'header': {
        const block = Buffer.concat(this.#acc);
        this.#acc = [];
        const step = this.#decoder.header(block, this.#headerAt);
        switch (step.kind) {
          case 'end':
            this.#state = 'end';
            return;
          case 'skip':
            this.#enter('skip', step.size + paddingOf(step.size));
            return;
          case 'meta':
            this.#enter('meta', step.size);
            return;
          case 'file':
            this.#cur = { path: step.path, size: step.size, ranges: [], held: step.size <= this.#maxHeld ? [] : undefined };
            this.#enter('data', step.size);
            return;
        }
        return;
      }
      case 'meta': {
        const body = Buffer.concat(this.#acc);
        this.#acc = [];
        this.#decoder.meta(body, this.#headerAt);
        this.#enter('pad', paddingOf(body.length));
        return;
      }
      case 'data': {
        const c = this.#cur!;
        const entry: ZstdTarEntry = { size: c.size, ranges: c.ranges, ...(c.held && !c.ranges ? { data: Buffer.concat(c.held) } : {}) };
        this.entries.set(c.path, entry);
        this.#onEntry?.(c.path, entry);
        this.#cur = undefined;
        this.#enter('pad', paddingOf(c.size));
        return;
      }
      case 'pad':
      case 'skip':
        this.#headerAt = this.#at;
        this.#state = 'header';
        this.#left = BLOCK_SIZE;
        return;
    }
  }

  /** A state of `n` bytes; one of none passes straight on. */
  #enter(state: 'data' | 'pad' | 'meta' | 'skip', n: number): void {
    this.#state = state;
    this.#left = n;
  }
}
