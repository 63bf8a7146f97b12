import { Readable } from 'node:stream';
import { rangeBytes, readFileRanges, runBlock, type FileRange } from '../archive/index.js';
import { AirlockError } from '../errors.js';
import type { CallOptions, ContentSource } from '../content/index.js';
import { ANNOTATION_REF_NAME, isDigest, type Descriptor, type Digest } from '../oci/index.js';
import type { BundleBlob } from './types.js';
import type { FrontData } from './front.js';
import { blobEntryName, pieceEntryName } from './entry-names.js';

/** Where an entry's bytes are: a file and a byte range in it, or several (raw blocks of a .tar.zst). */
export interface EntryLocation {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** The entry's bytes in order when they are not one span from `offset`: their lengths add up to `size`. */
  readonly ranges?: readonly FileRange[];
  /** The entry's bytes themselves, when the file holds them compressed (small entries of a .tar.zst). */
  readonly bytes?: Buffer;
}

export type LocateEntry = (entryName: string) => Promise<EntryLocation | undefined>;

/**
 * Random access into a directory bundle, uncompressed tar volumes (as oras-go's read-only OCI
 * store reads a tar in place) or a .tar.zst whose layers are stored in raw blocks: metadata from
 * memory, blobs as byte ranges, pieces of a cut blob concatenated. Bytes are unverified, as
 * ContentSource promises; callers verify.
 */
export class BundleContentSource implements ContentSource {
  readonly #front: FrontData;
  readonly #locate: LocateEntry;
  readonly #blobs: ReadonlyMap<Digest, BundleBlob>;

  constructor(front: FrontData, locate: LocateEntry) {
    this.#front = front;
    this.#locate = locate;
    this.#blobs = new Map(front.manifest.blobs.filter((b) => b.location === 'bundle').map((b) => [b.digest, b]));
  }

  async resolve(reference: string): Promise<Descriptor> {
    const byName = this.#front.index.manifests.find((d) => d.annotations?.[ANNOTATION_REF_NAME] === reference || d.digest === reference);
    if (byName) return byName;
    if (isDigest(reference)) {
      const b = this.#blobs.get(reference);
      if (b) return { mediaType: b.mediaType, digest: b.digest, size: b.size };
    }
    throw new AirlockError('NOT_FOUND', `${reference} is not in the bundle`);
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    const meta = this.#front.metadata.get(desc.digest);
    if (meta) return Readable.from([meta]);
    const ranges = await this.#ranges(desc.digest);
    if (!ranges) throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in the given bundle files`, { where: desc.digest });
    return readLocations(ranges, opts.signal);
  }

  /**
   * Bytes `start`..`end` (inclusive) of a blob, read in place: HTTP Range requests of `bundle
   * serve`. Unverified, like fetch; a range cannot be checked against the digest.
   */
  async fetchRange(desc: Descriptor, start: number, end: number, opts: CallOptions = {}): Promise<Readable> {
    const meta = this.#front.metadata.get(desc.digest);
    if (meta) return Readable.from([meta.subarray(start, end + 1)]);
    const ranges = await this.#ranges(desc.digest);
    if (!ranges) throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in the given bundle files`, { where: desc.digest });
    const parts: EntryLocation[] = [];
    let at = 0;
    for (const r of ranges) {
      const from = Math.max(start, at);
      const to = Math.min(end, at + r.size - 1);
      if (from <= to) {
        parts.push(r.bytes
          ? { path: r.path, offset: 0, size: to - from + 1, bytes: r.bytes.subarray(from - at, to - at + 1) }
          : { path: r.path, offset: 0, size: to - from + 1, ranges: sliceRanges(spansOf(r), from - at, to - at + 1) });
      }
      at += r.size;
    }
    return readLocations(parts, opts.signal);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (this.#front.metadata.has(desc.digest)) return true;
    return (await this.#ranges(desc.digest)) !== undefined;
  }

  async #ranges(digest: Digest): Promise<EntryLocation[] | undefined> {
    const blob = this.#blobs.get(digest);
    if (!blob) return undefined;
    if (blob.pieces) {
      const out: EntryLocation[] = [];
      for (const p of blob.pieces) {
        const loc = await this.#locate(pieceEntryName(digest, p.offset));
        if (!loc || loc.size !== p.size) return undefined;
        out.push(loc);
      }
      return out;
    }
    const loc = await this.#locate(blobEntryName(digest));
    if (!loc || loc.size !== blob.size) return undefined;
    return [loc];
  }
}

const spansOf = (loc: EntryLocation): readonly FileRange[] => loc.ranges ?? [{ offset: loc.offset, length: loc.size }];

/** Bytes `from` (inclusive) to `to` (exclusive) of the bytes `ranges` hold, as ranges. */
export function sliceRanges(ranges: readonly FileRange[], from: number, to: number): FileRange[] {
  const out: FileRange[] = [];
  let at = 0;
  // A predicted block header (FileRange.rawBlock) stays with a slice that starts where its block does.
  const piece = (r: FileRange, a: number, b: number, blockAt: number): FileRange =>
    a === blockAt && r.rawBlock !== undefined ? { offset: r.offset, length: b - a, rawBlock: r.rawBlock } : { offset: r.offset + (a - blockAt), length: b - a };
  for (const r of ranges) {
    const bytes = rangeBytes(r);
    const a = Math.max(from, at);
    const b = Math.min(to, at + bytes);
    if (a < b && r.count === undefined) out.push(piece(r, a, b, at));
    else if (a < b) {
      // A run of raw blocks: a partial first block, the whole blocks between as a run, a partial last block.
      let k = Math.floor((a - at) / r.length);
      let pos = a;
      if (pos > at + k * r.length) {
        const end = Math.min(b, at + (k + 1) * r.length);
        out.push(piece(runBlock(r, k), pos, end, at + k * r.length));
        pos = end;
        k++;
      }
      const whole = Math.floor((b - pos) / r.length);
      if (whole > 0) {
        out.push(whole === 1 ? runBlock(r, k) : { ...runBlock(r, k), count: whole });
        pos += whole * r.length;
        k += whole;
      }
      if (pos < b) out.push(piece(runBlock(r, k), pos, b, pos));
    }
    at += bytes;
    if (at >= to) break;
  }
  return out;
}

function readLocation(loc: EntryLocation, signal: AbortSignal | undefined): Readable {
  return loc.bytes ? Readable.from([loc.bytes], { objectMode: false }) : readFileRanges(loc.path, spansOf(loc), signal);
}

function readLocations(locs: readonly EntryLocation[], signal: AbortSignal | undefined): Readable {
  if (locs.length === 1) return readLocation(locs[0]!, signal);
  return Readable.from((async function* () {
    for (const l of locs) yield* readLocation(l, signal) as AsyncIterable<Buffer>;
  })(), { objectMode: false, highWaterMark: 1 << 20 });
}
