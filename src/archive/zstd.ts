import { Duplex, Transform, type TransformCallback } from 'node:stream';
import binding from 'zstd-napi/binding.js';
import { AirlockError, zstdDamaged } from '../errors.js';

/** zstd frame magic, little-endian 0xFD2FB528 (RFC 8878 §3.1.1). */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/**
 * Largest window a bundle may ask the decoder for: 2^27 = 128 MiB, zstd's own default limit
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT). Our writer's levels use ≤ 2^23; a stream asking for more is
 * refused before the decoder allocates it.
 */
export const DEFAULT_MAX_WINDOW_LOG = 27;
const OUT_SLAB = 1 << 20;
const MIN_FREE = 128 * 1024;

export interface ZstdCompressOptions {
  /** zstd level. Default 3 (docs/ARCHITECTURE.md "tar (node-tar 7.5) and zstd-napi 0.0.13": levels 1–3 run at 1–2 GB/s; image layers do not compress anyway). */
  readonly level?: number;
}

/** A zstd compressor whose caller may mark chunks to be stored rather than compressed. */
export interface ZstdCompressStream extends Transform {
  /**
   * Mark `chunk` (before writing it) to go out as raw blocks in a frame of their own: for bytes
   * that are already compressed (gzip or zstd layers), where zstd finds nothing and costs CPU.
   */
  markStored(chunk: Buffer): Buffer;
}

/**
 * Raw (stored) frames, RFC 8878 §3.1.1: magic, a Frame_Header_Descriptor of 0 (no content size,
 * no single segment, no checksum, no dictionary), a Window_Descriptor for a 128 KiB window
 * (exponent 7: 2^(10+7)), then Raw blocks (Block_Type 0) of at most 128 KiB (the block maximum
 * for that window), closed by an empty Last_Block. Decoders need no window memory for them, and
 * concatenated frames are one valid zstd stream (§3.1). Checksums are left out: every blob is
 * sha256-checked by readers, and checksums.txt covers the file.
 */
export const RAW_FRAME_HEADER = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
export const RAW_BLOCK_MAX = 128 * 1024;
/** An empty Last_Block: closes a raw frame. */
export const RAW_LAST_EMPTY = Buffer.from([0x01, 0x00, 0x00]);
/** Each raw block's header. */
export const RAW_BLOCK_HEADER_BYTES = 3;

/** Bytes that `n` payload bytes take as raw blocks of RAW_BLOCK_MAX (frame header and closing block not counted). */
export function rawBlocksSize(n: number): number {
  return n + RAW_BLOCK_HEADER_BYTES * Math.ceil(n / RAW_BLOCK_MAX);
}

/** One whole zstd frame of `data` at `level`, checksum on: the same frames the stream writes. */
export function compressFrame(data: Buffer, level: number): Buffer {
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, level);
  cctx.setParameter(binding.CParameter.checksumFlag, 1);
  const out = Buffer.allocUnsafe(zstdCompressBound(data.length) + 32);
  const n = cctx.compress2(out, data);
  return Buffer.from(out.subarray(0, n));
}

export function rawBlockHeader(size: number): Buffer {
  const v = size << 3; // Last_Block 0, Block_Type 0 (Raw), Block_Size in bits 3..23
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/**
 * zstd compression with the frame checksum on (zstd-napi leaves it off: docs/ARCHITECTURE.md), single
 * threaded: measured here, zstd's worker threads make level 3 slower (they spin-wait), and
 * 1 MiB input chunks keep each main-thread stall to about a millisecond. Chunks marked with
 * markStored() end the current compressed frame and go out in raw frames (docs/BENCHMARKS.md:
 * compressing gzip layers at level 3 saved 1.4% for 1.9 CPU-s per 1.67 GB).
 */
export function createZstdCompressStream(opts: ZstdCompressOptions = {}): ZstdCompressStream {
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, opts.level ?? 3);
  cctx.setParameter(binding.CParameter.checksumFlag, 1);
  const outSize = Math.max(binding.cStreamOutSize(), 256 * 1024);
  let out = Buffer.allocUnsafe(outSize);
  const stored = new WeakSet<Buffer>();
  let compressedOpen = false; // a compressed frame has input not yet ended
  let rawOpen = false; // a raw frame is open
  const run = (t: Transform, input: Buffer, end: boolean): void => {
    const directive = end ? binding.EndDirective.end : binding.EndDirective.continue;
    let src = input;
    for (;;) {
      const [ret, produced, consumed] = cctx.compressStream2(out, src, directive);
      if (produced > 0) {
        t.push(out.subarray(0, produced));
        out = Buffer.allocUnsafe(outSize);
      }
      src = src.subarray(consumed);
      if (src.length === 0 && (!end || ret === 0)) return;
    }
  };
  const closeRaw = (t: Transform): void => {
    if (!rawOpen) return;
    t.push(RAW_LAST_EMPTY);
    rawOpen = false;
  };
  const closeCompressed = (t: Transform): void => {
    if (!compressedOpen) return;
    run(t, Buffer.alloc(0), true);
    compressedOpen = false;
  };
  const stream = new Transform({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        if (stored.has(chunk)) {
          closeCompressed(this);
          if (!rawOpen) {
            this.push(RAW_FRAME_HEADER);
            rawOpen = true;
          }
          for (let pos = 0; pos < chunk.length; pos += RAW_BLOCK_MAX) {
            const part = chunk.subarray(pos, pos + RAW_BLOCK_MAX);
            this.push(rawBlockHeader(part.length));
            this.push(part);
          }
        } else {
          closeRaw(this);
          compressedOpen = true;
          run(this, chunk, false);
        }
        cb();
      } catch (err) {
        cb(new AirlockError('INTERNAL', 'zstd compression failed', { cause: err }));
      }
    },
    flush(cb: TransformCallback) {
      try {
        closeRaw(this);
        // Always end with a compressed frame's end (an empty one if need be): a stream is never empty.
        compressedOpen = true;
        closeCompressed(this);
        cb();
      } catch (err) {
        cb(new AirlockError('INTERNAL', 'zstd compression failed', { cause: err }));
      }
    },
  });
  return Object.assign(stream, {
    markStored(chunk: Buffer): Buffer {
      stored.add(chunk);
      return chunk;
    },
  });
}

export interface ZstdDecompressOptions {
  /** Refuse frames whose window exceeds 2^maxWindowLog bytes. Default 27 (128 MiB). */
  readonly maxWindowLog?: number;
  /** Names the input in errors. */
  readonly where?: string;
}

/**
 * zstd decompression that honours the reader's backpressure: output is produced only while the
 * readable side wants more, so a small, highly compressed input (a decompression bomb) cannot
 * fill memory, and frames asking for a window above the limit are refused. Corrupt input,
 * a wrong checksum or a stream that stops inside a frame fail with BUNDLE_UNREADABLE.
 */
export function createZstdDecompressStream(opts: ZstdDecompressOptions = {}): Duplex {
  return new ZstdDecompressStream(opts);
}

class ZstdDecompressStream extends Duplex {
  readonly #dctx = new binding.DCtx();
  readonly #where: string;
  #pending: Buffer | undefined;
  #pendingCb: ((err?: Error | null) => void) | undefined;
  #inFrame = false;
  #slab = Buffer.allocUnsafe(OUT_SLAB);
  #slabUsed = 0;
  #wantsData = false;

  constructor(opts: ZstdDecompressOptions) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.#where = opts.where ?? 'zstd stream';
    this.#dctx.setParameter(binding.DParameter.windowLogMax, opts.maxWindowLog ?? DEFAULT_MAX_WINDOW_LOG);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pending = chunk;
    this.#pendingCb = cb;
    this.#pump();
  }

  override _read(): void {
    this.#wantsData = true;
    this.#pump();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#inFrame) {
      cb(new AirlockError('BUNDLE_UNREADABLE', 'the zstd stream is truncated: it ends inside a frame', {
        where: this.#where,
        hint: 'the file is incomplete (an interrupted copy?): copy it again and check it against checksums.txt',
      }));
      return;
    }
    this.push(null);
    cb();
  }

  #pump(): void {
    while (this.#pending !== undefined && this.#wantsData) {
      if (OUT_SLAB - this.#slabUsed < MIN_FREE) {
        this.#slab = Buffer.allocUnsafe(OUT_SLAB);
        this.#slabUsed = 0;
      }
      const dst = this.#slab.subarray(this.#slabUsed);
      let ret: number;
      let produced: number;
      let consumed: number;
      try {
        [ret, produced, consumed] = decompressStep(this.#dctx, dst, this.#pending, this.#where);
      } catch (err) {
        const cb = this.#pendingCb;
        this.#pending = undefined;
        this.#pendingCb = undefined;
        cb?.(err as Error);
        return;
      }
      this.#pending = this.#pending.subarray(consumed);
      // A call that neither consumed nor produced reports the *next* frame's header size, not
      // this frame's state: only count calls that did work.
      if (consumed > 0 || produced > 0) this.#inFrame = ret !== 0;
      if (produced > 0) {
        const out = this.#slab.subarray(this.#slabUsed, this.#slabUsed + produced);
        this.#slabUsed += produced;
        if (!this.push(out)) this.#wantsData = false;
      }
      if (this.#pending.length === 0 && produced < dst.length) {
        const cb = this.#pendingCb;
        this.#pending = undefined;
        this.#pendingCb = undefined;
        cb?.();
        return;
      }
    }
  }
}

/** One ZSTD_decompressStream call: [0 when a frame ended, bytes produced, bytes consumed]; damage is BUNDLE_UNREADABLE. */
export function decompressStep(dctx: InstanceType<typeof binding.DCtx>, dst: Buffer, src: Buffer, where: string): [number, number, number] {
  try {
    return dctx.decompressStream(dst, src);
  } catch (err) {
    throw zstdDamaged(err instanceof Error ? err.message : String(err), where, err);
  }
}

export function isZstdMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
}

/**
 * Largest compressed size of `n` input bytes: ZSTD_COMPRESSBOUND from zstd.h, plus room for the
 * frame header and checksum. Used to keep a compressed volume under its size limit whatever
 * the data is.
 */
export function zstdCompressBound(n: number): number {
  const small = n < 128 * 1024 ? Math.floor((128 * 1024 - n) / 2048) : 0;
  return n + Math.floor(n / 256) + small + 32;
}
