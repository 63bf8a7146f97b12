import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { AirlockError, DigestMismatchError, SizeMismatchError, abortError } from '../errors.js';
import { TAR_END_BYTES, tarEntryBytes, zstdCompressBound } from '../archive/index.js';
import { formatBytes } from '../util/index.js';
import type { Digest } from '../oci/index.js';
import type { BlobPiece, BundleBlob, VolumeInfo } from './types.js';
import { blobEntryName } from './entry-names.js';

export interface VolumeBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** Manifests, indexes and configs: repeated at the front of every volume. */
  readonly metadata: boolean;
}

export interface PlanVolumesOptions {
  /** Largest volume file, in bytes (`--split-size`). */
  readonly maxSize: number;
  /** Volumes are zstd-compressed: the plan then reserves zstd's worst-case expansion. */
  readonly compressed: boolean;
  /**
   * Upper bound of the bytes of airlock.json (before this plan's volume and piece records are
   * added: the planner reserves room for those itself), airlock.sigstore.json, oci-layout and
   * index.json together.
   */
  readonly frontBytes: number;
}

export interface PlannedPiece {
  readonly digest: Digest;
  readonly offset: number;
  readonly size: number;
}

export interface PlannedVolume {
  /** 1-based. */
  readonly number: number;
  /** Layers (whole non-metadata blobs) in this volume, in input order. */
  readonly blobs: readonly Digest[];
  /** Pieces in this volume, by blob input order then offset. */
  readonly pieces: readonly PlannedPiece[];
  /** Tar bytes planned (front, metadata, payload, end marker), before compression. */
  readonly bytes: number;
}

export interface CutBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly pieces: readonly { readonly volume: number; readonly offset: number; readonly size: number }[];
}

/** A pure, serialisable plan: which layer goes whole into which volume, which blobs are cut. */
export interface VolumePlan {
  readonly maxSize: number;
  readonly compressed: boolean;
  /** Bytes reserved for the front entries' bodies, the plan's own records in airlock.json included. */
  readonly frontReserve: number;
  readonly metadata: readonly Digest[];
  readonly volumes: readonly PlannedVolume[];
  readonly cut: readonly CutBlob[];
}

/** airlock.json grows by a `"volume": N` per whole layer and a piece record per piece (pretty-printed, generous). */
const RECORD_BYTES_PER_BLOB = 32;
const RECORD_BYTES_PER_PIECE = 320;
const RECORD_BYTES_FIXED = 128;
/** An entry header with a pax record (sizes ≥ 8 GiB): reserve it on every payload entry. */
const HEADER_RESERVE = 1024;

/**
 * Bin-pack layers into volumes of at most `maxSize` bytes each, every volume repeating the
 * front entries and all metadata blobs. Deterministic: first-fit decreasing (size, then digest).
 * A blob that cannot fit an empty volume is cut: full-volume pieces first, the remainder then
 * packed like any layer. Every byte of a volume is counted: tar headers, padding, end marker
 * and, for compressed volumes, zstd's worst-case expansion.
 */
export function planVolumes(blobs: readonly VolumeBlob[], opts: PlanVolumesOptions): VolumePlan {
  if (!Number.isSafeInteger(opts.maxSize) || opts.maxSize <= 0) throw new AirlockError('USAGE', `invalid split size ${opts.maxSize}`);
  let reserve = opts.frontBytes + RECORD_BYTES_FIXED;
  for (let round = 0; round < 32; round++) {
    const plan = planOnce(blobs, opts, reserve);
    const pieceCount = plan.cut.reduce((n, c) => n + c.pieces.length, 0);
    const wholeCount = plan.volumes.reduce((n, v) => n + v.blobs.length, 0);
    const needed = opts.frontBytes + RECORD_BYTES_FIXED + wholeCount * RECORD_BYTES_PER_BLOB + pieceCount * RECORD_BYTES_PER_PIECE;
    if (needed <= reserve) return plan;
    reserve = needed + 1024;
  }
  throw new AirlockError('USAGE', `split size ${formatBytes(opts.maxSize)} is too small for this bundle`, {
    hint: 'choose a larger --split-size',
  });
}

function planOnce(blobs: readonly VolumeBlob[], opts: PlanVolumesOptions, reserve: number): VolumePlan {
  const usable = usableTarBytes(opts.maxSize, opts.compressed);
  // Front bodies all counted in `reserve`; four entry headers plus padding each.
  let front = reserve + 4 * 1024 + TAR_END_BYTES;
  const metadata: Digest[] = [];
  const payload: VolumeBlob[] = [];
  for (const b of blobs) {
    if (b.metadata) {
      metadata.push(b.digest);
      front += tarEntryBytes(blobEntryName(b.digest), b.size);
    } else payload.push(b);
  }
  const avail = usable - front;
  const minPiece = 512;
  if (avail < HEADER_RESERVE + minPiece) {
    throw new AirlockError('USAGE', `split size ${formatBytes(opts.maxSize)} is too small: every volume repeats airlock.json, index.json and ${metadata.length} manifests and configs (${formatBytes(front)})`, {
      hint: `choose a --split-size of at least ${formatBytes(Math.ceil((front + 64 * 1024) * (opts.compressed ? 1.01 : 1)))}`,
    });
  }
  const order = new Map(payload.map((b, i) => [b.digest, i]));
  type Vol = { free: number; blobs: Digest[]; pieces: PlannedPiece[] };
  const vols: Vol[] = [];
  const cost = (size: number): number => HEADER_RESERVE + size + ((512 - (size % 512)) % 512);
  // Largest piece that fills an empty volume, a multiple of 512 so pieces need no padding.
  const fullPiece = Math.floor((avail - HEADER_RESERVE) / 512) * 512;
  const cut = new Map<Digest, { size: number; pieces: { volume: number; offset: number; size: number }[] }>();
  type Item = { digest: Digest; offset: number; size: number; piece: boolean };
  const items: Item[] = [];
  const bySize = [...payload].sort((a, b) => b.size - a.size || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  for (const b of bySize) {
    if (cost(b.size) <= avail) {
      items.push({ digest: b.digest, offset: 0, size: b.size, piece: false });
      continue;
    }
    const c = { size: b.size, pieces: [] as { volume: number; offset: number; size: number }[] };
    cut.set(b.digest, c);
    let offset = 0;
    while (b.size - offset > fullPiece) {
      vols.push({ free: avail - cost(fullPiece), blobs: [], pieces: [{ digest: b.digest, offset, size: fullPiece }] });
      c.pieces.push({ volume: vols.length, offset, size: fullPiece });
      offset += fullPiece;
    }
    if (offset < b.size) items.push({ digest: b.digest, offset, size: b.size - offset, piece: true });
  }
  items.sort((a, b) => b.size - a.size || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  for (const it of items) {
    const need = cost(it.size);
    let vi = vols.findIndex((v) => v.free >= need);
    if (vi < 0) {
      vols.push({ free: avail, blobs: [], pieces: [] });
      vi = vols.length - 1;
    }
    const v = vols[vi]!;
    v.free -= need;
    if (it.piece) {
      v.pieces.push({ digest: it.digest, offset: it.offset, size: it.size });
      cut.get(it.digest)!.pieces.push({ volume: vi + 1, offset: it.offset, size: it.size });
    } else v.blobs.push(it.digest);
  }
  if (vols.length === 0) vols.push({ free: avail, blobs: [], pieces: [] });
  const rank = (d: Digest): number => order.get(d) ?? 0;
  return {
    maxSize: opts.maxSize,
    compressed: opts.compressed,
    frontReserve: reserve,
    metadata,
    volumes: vols.map((v, i) => ({
      number: i + 1,
      blobs: [...v.blobs].sort((a, b) => rank(a) - rank(b)),
      pieces: [...v.pieces].sort((a, b) => rank(a.digest) - rank(b.digest) || a.offset - b.offset),
      bytes: front + (avail - v.free),
    })),
    cut: [...cut.entries()]
      .sort((a, b) => rank(a[0]) - rank(b[0]))
      .map(([digest, c]) => ({ digest, size: c.size, pieces: [...c.pieces].sort((a, b) => a.offset - b.offset) })),
  };
}

/** Largest tar stream that still fits `maxSize` once written (compressed: at zstd's worst case). */
export function usableTarBytes(maxSize: number, compressed: boolean): number {
  if (!compressed) return maxSize;
  let t = Math.floor((maxSize * 256) / 257);
  while (t > 0 && zstdCompressBound(t) > maxSize) t -= Math.max(1, Math.floor((zstdCompressBound(t) - maxSize) / 2));
  return Math.max(0, t);
}

export type ReadBlob = (digest: Digest) => Promise<Readable> | Readable;

/**
 * sha256 of each piece of every cut blob, reading each staged blob once (and checking the whole
 * blob's digest on the way): airlock.json records them, and it must be final before the first
 * volume is written.
 */
export async function computePieceDigests(plan: VolumePlan, readBlob: ReadBlob, opts: { signal?: AbortSignal } = {}): Promise<Map<Digest, BlobPiece[]>> {
  const out = new Map<Digest, BlobPiece[]>();
  for (const c of plan.cut) {
    const body = await readBlob(c.digest);
    const whole = createHash('sha256');
    const pieces: BlobPiece[] = [];
    let i = 0;
    let inPiece = 0;
    let total = 0;
    let hash = createHash('sha256');
    const close = (): void => {
      const p = c.pieces[i]!;
      pieces.push({ volume: p.volume, offset: p.offset, size: p.size, digest: `sha256:${hash.digest('hex')}` as Digest });
      i++;
      inPiece = 0;
      hash = createHash('sha256');
    };
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) {
        body.destroy();
        throw abortError(opts.signal);
      }
      whole.update(chunk);
      total += chunk.length;
      if (total > c.size) {
        body.destroy();
        throw new SizeMismatchError(c.digest, c.size, total, { where: `staged blob ${c.digest}` });
      }
      let rest = chunk;
      while (rest.length > 0) {
        const p = c.pieces[i]!;
        const take = Math.min(rest.length, p.size - inPiece);
        hash.update(rest.subarray(0, take));
        inPiece += take;
        rest = rest.subarray(take);
        if (inPiece === p.size) close();
      }
    }
    if (total !== c.size) throw new SizeMismatchError(c.digest, c.size, total, { where: `staged blob ${c.digest}` });
    const actual = `sha256:${whole.digest('hex')}`;
    if (actual !== c.digest) throw new DigestMismatchError(c.digest, actual, total, { where: `staged blob ${c.digest}`, hint: 'the staging directory is damaged: run the export again' });
    out.set(c.digest, pieces);
  }
  return out;
}

/** airlock.json's blob records with this plan's volumes and pieces, and its `volumes` field. */
export function applyVolumePlan(
  blobs: readonly BundleBlob[],
  plan: VolumePlan,
  pieceDigests: ReadonlyMap<Digest, readonly BlobPiece[]>,
): { blobs: BundleBlob[]; volumes: VolumeInfo } {
  const volumeOf = new Map<Digest, number>();
  for (const v of plan.volumes) for (const d of v.blobs) volumeOf.set(d, v.number);
  const out = blobs.map((b): BundleBlob => {
    const { volume: _v, pieces: _p, ...rest } = b;
    const vol = volumeOf.get(b.digest);
    if (vol !== undefined) return { ...rest, volume: vol };
    const pieces = pieceDigests.get(b.digest);
    if (pieces) return { ...rest, pieces };
    return rest;
  });
  for (const c of plan.cut) {
    if (!pieceDigests.has(c.digest)) throw new AirlockError('INTERNAL', `no piece digests computed for ${c.digest}`);
  }
  return { blobs: out, volumes: { count: plan.volumes.length, maxSize: plan.maxSize } };
}
