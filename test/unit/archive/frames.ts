import { encodeFileHeader, paddingOf, TAR_END_BYTES } from '../../../src/archive/tar-header.js';
import { RAW_FRAME_HEADER, RAW_LAST_EMPTY, rawBlockHeader } from '../../../src/archive/zstd.js';

/** A plain tar of regular files, as tar-writer.ts encodes them, with `extra` blocks before the end marker. */
export function tarOf(entries: readonly [string, Buffer][], extra: Buffer[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const [path, data] of entries) parts.push(encodeFileHeader(path, data.length), data, Buffer.alloc(paddingOf(data.length)));
  return Buffer.concat([...parts, ...extra, Buffer.alloc(TAR_END_BYTES)]);
}

/** One raw zstd frame of `data`, in raw blocks of at most `block` bytes (not just the writer's 128 KiB). */
export function rawFrame(data: Buffer, block = 128 * 1024): Buffer {
  const parts: Buffer[] = [RAW_FRAME_HEADER];
  for (let pos = 0; pos < data.length; pos += block) {
    const part = data.subarray(pos, pos + block);
    parts.push(rawBlockHeader(part.length), part);
  }
  parts.push(RAW_LAST_EMPTY);
  return Buffer.concat(parts);
}

/** A skippable frame (RFC 8878 §3.1.2); `magicLow` picks one of the 16 magic numbers. */
export function skippable(payload: Buffer, magicLow = 0): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a50 + magicLow, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}
