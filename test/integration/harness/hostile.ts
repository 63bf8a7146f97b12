/**
 * Builds hostile bundles in code from a good one (no binary bad bundles in git): a
 * ustar reader/writer that allows what airlock must refuse (`..`, absolute names, links, devices,
 * duplicates), and a raw zstd frame writer whose RLE blocks expand a few KiB into gigabytes.
 *
 * Formats: ustar, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06;
 * zstd frames, RFC 8878 §3.1.1 (frame header, window descriptor, raw and RLE blocks).
 */
import { Readable } from 'node:stream';
import { createZstdCompressStream } from '../../../src/archive/index.js';

export const BLOCK = 512;

export interface TarItem {
  readonly name: string;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '6' FIFO. */
  readonly type: string;
  readonly linkname?: string;
  readonly data: Buffer;
  /** Write this size in the header instead of data.length (a lying header). */
  readonly declaredSize?: number;
  readonly mode?: number;
}

function str(h: Buffer, off: number, len: number): string {
  const s = h.toString('latin1', off, off + len);
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** Parse a plain ustar archive (what airlock writes: no pax headers for names under 100 bytes). */
export function readTar(buf: Buffer): TarItem[] {
  const out: TarItem[] = [];
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const prefix = str(h, 345, 155);
    const name = prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100);
    const size = parseInt(str(h, 124, 12).trim() || '0', 8);
    const type = str(h, 156, 1) || '0';
    if (type === 'x' || type === 'g') throw new Error('pax headers are not expected in an airlock bundle');
    out.push({ name, type, linkname: str(h, 157, 100), data: Buffer.from(buf.subarray(off + BLOCK, off + BLOCK + size)) });
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

function put(h: Buffer, off: number, len: number, value: string): void {
  Buffer.from(value, 'latin1').subarray(0, len).copy(h, off);
}

function octal(h: Buffer, off: number, len: number, value: number): void {
  put(h, off, len, `${value.toString(8).padStart(len - 1, '0')}\0`);
}

export function tarHeader(item: TarItem): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = item.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  put(h, 0, 100, name);
  octal(h, 100, 8, item.mode ?? 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, item.declaredSize ?? (item.type === '0' ? item.data.length : 0));
  octal(h, 136, 12, 1_704_067_200);
  h.fill(0x20, 148, 156);
  put(h, 156, 1, item.type);
  if (item.linkname) put(h, 157, 100, item.linkname);
  put(h, 257, 6, 'ustar\0');
  put(h, 263, 2, '00');
  put(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

export function tarItemBytes(item: TarItem): Buffer {
  const body = item.type === '0' ? item.data : Buffer.alloc(0);
  const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
  return Buffer.concat([tarHeader(item), body, Buffer.alloc(pad)]);
}

export function writeTar(items: readonly TarItem[], opts: { trailer?: boolean } = {}): Buffer {
  return Buffer.concat([...items.map(tarItemBytes), ...(opts.trailer === false ? [] : [Buffer.alloc(2 * BLOCK)])]);
}

/** Byte offsets where each entry starts, plus the offset of the trailer. */
export function entryOffsets(items: readonly TarItem[]): number[] {
  const out: number[] = [];
  let off = 0;
  for (const i of items) {
    out.push(off);
    off += tarItemBytes(i).length;
  }
  out.push(off);
  return out;
}

export async function zstdCompress(data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of Readable.from([data]).pipe(createZstdCompressStream({ level: 1 }))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export type ZstdSegment = { readonly raw: Buffer } | { readonly rle: number; readonly count: number };

/**
 * One zstd frame, written by hand: no content size, no checksum, window 2^windowLog. Raw blocks
 * carry bytes as they are; RLE blocks repeat one byte up to 128 KiB each, so `count` = 7 GiB costs
 * ~220 KiB of frame. A `windowLog` above the reader's limit makes a frame no safe reader accepts.
 */
export function zstdFrame(segments: readonly ZstdSegment[], windowLog = 17): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from([0x00, (windowLog - 10) << 3])];
  const maxBlock = Math.min(128 * 1024, 2 ** windowLog);
  const blocks: { type: number; size: number; content: Buffer }[] = [];
  for (const s of segments) {
    if ('raw' in s) {
      for (let o = 0; o < s.raw.length; o += maxBlock) {
        const c = s.raw.subarray(o, o + maxBlock);
        blocks.push({ type: 0, size: c.length, content: c });
      }
    } else {
      const one = Buffer.from([s.rle]);
      for (let left = s.count; left > 0; left -= maxBlock) blocks.push({ type: 1, size: Math.min(maxBlock, left), content: one });
    }
  }
  blocks.forEach((b, i) => {
    const last = i === blocks.length - 1 ? 1 : 0;
    const v = last | (b.type << 1) | (b.size << 3);
    parts.push(Buffer.from([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff]), b.content);
  });
  return Buffer.concat(parts);
}
