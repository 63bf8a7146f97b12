import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { once, setMaxListeners } from 'node:events';
import { basename, dirname, join, relative } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { AirlockError, DigestMismatchError, SizeMismatchError, abortError, ioError, isAirlockError } from '../errors.js';
import { HashingFileSink, PeriodicSync } from './file-sink.js';
import {
  createTarWriter, createZstdCompressStream, formatVolumeName, stripBundleExtension, tarEntryBytes, zstdCompressBound,
  TAR_END_BYTES, layoutArchive, regionRanges, FileHasher, PlacedFile, type EntryBodySource, type FileRange, type ZstdCompressStream,
} from '../archive/index.js';
import { hexOf, type Digest } from '../oci/index.js';
import type { ContentSource } from '../content/index.js';
import { forEachConcurrent, writeFileAtomic } from '../util/index.js';
import { AIRLOCK_JSON, AIRLOCK_SIGNATURE, type BundleBlob } from './types.js';
import { CHECKSUMS_FILE, INDEX_JSON, OCI_LAYOUT_FILE, blobEntryName, pieceEntryName } from './entry-names.js';
import { parseAirlockManifest } from './manifest.js';
import { MAX_INDEX_JSON_BYTES, MAX_OCI_LAYOUT_BYTES, parseLayoutIndex, parseOciLayout } from './layout-files.js';
import { MAX_METADATA_BYTES, MetadataTracker } from './metadata.js';
import type { VolumePlan } from './volume-plan.js';

export type OutputForm = 'dir' | 'tar' | 'tar.zst';

export interface WriteBundleOptions {
  /** A staged OCI image layout: oci-layout, index.json, blobs/sha256/<hex>. */
  readonly layoutDir: string;
  /** The final airlock.json bytes (with volume and piece records when split). */
  readonly airlockJson: Buffer;
  /** airlock.sigstore.json, when signed. */
  readonly signature?: Buffer;
  /** The bundle file, or the directory for form 'dir'. Volumes are named after it: OUT.vol001.tar.zst. */
  readonly output: string;
  readonly form: OutputForm;
  /** zstd level for 'tar.zst'. Default 3. */
  readonly compressionLevel?: number;
  /**
   * 'tar.zst': store layers whose media type is already compressed (gzip, zstd) in raw zstd
   * frames instead of compressing them again. Default: true unless compressionLevel is given.
   * Measured on the large fixtures (docs/BENCHMARKS.md "zstd level"): level 3 saved 1.4% of
   * such layers for 1.9 CPU-s per 1.67 GB, level 1 0.3% for 1.1 CPU-s.
   */
  readonly storeCompressedLayers?: boolean;
  /** Blob write order: manifests, then configs, then layers; exactly the blobs with location 'bundle'. */
  readonly order: readonly Digest[];
  /** Split into volumes (tar and tar.zst only); airlock.json must carry this plan's records. */
  readonly volumes?: VolumePlan;
  readonly signal?: AbortSignal;
  /** Blob bytes copied, chunk by chunk. */
  readonly onProgress?: (bytes: number) => void;
  /**
   * Where layers come from when the bundle is written in place ({@link writesInPlace}): a source
   * whose streams carry the layer's verified bytes (the source verifies: copy/cache-first.ts, say).
   * Layers it serves need not be staged. Without it, every blob is read from the staging.
   */
  readonly layers?: ContentSource;
  /** Layers written at once by the in-place writer. Default 8. */
  readonly concurrency?: number;
}

export interface WrittenFile {
  readonly path: string;
  readonly size: number;
  /** sha256 hex, as in checksums.txt. */
  readonly sha256: string;
}

export interface WriteBundleResult {
  /** Every file written (the bundle, each volume, or each file of the directory), checksums.txt excluded. */
  readonly files: readonly WrittenFile[];
  readonly checksums: string;
  /**
   * An in-place write ({@link writesInPlace}): where each layer written into a region of its own
   * lies in the file, by entry name (`blobs/sha256/<hex>`), as the layout put it (for the download
   * cache's references: DownloadCache.recordBundle, without indexing the file again).
   */
  readonly places?: ReadonlyMap<string, readonly FileRange[]>;
}

interface EntrySpec {
  readonly path: string;
  readonly size: number;
  readonly body: () => EntryBodySource;
  /** Already-compressed bytes: raw zstd frames in a 'tar.zst' (see storeCompressedLayers). */
  readonly stored?: boolean;
}

/** Layer media types whose bytes are already compressed (OCI and Docker gzip/zstd layers). */
export function isCompressedMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && /(?:[+.](?:gzip|zstd)|\.tar\.gzip)$/.test(mediaType);
}

/**
 * Write a staged layout as a bundle in the contract's entry order (docs/ARCHITECTURE.md "The bundle format"):
 * airlock.json, airlock.sigstore.json, oci-layout, index.json, then blobs in `order`. Split
 * volumes each repeat the front and every metadata blob, then carry their layers, then their
 * pieces. Every blob is hashed while it is copied (DIGEST_MISMATCH if the staging is damaged),
 * every file is written under a temporary name and renamed only when all are whole, and
 * checksums.txt beside the output lists them in `sha256sum -c` format.
 */
export async function writeBundle(opts: WriteBundleOptions): Promise<WriteBundleResult> {
  const where = `export to ${opts.output}`;
  const manifest = parseAirlockManifest(opts.airlockJson, 'airlock.json (being written)');
  const ociLayout = await readSmallFile(join(opts.layoutDir, OCI_LAYOUT_FILE), MAX_OCI_LAYOUT_BYTES);
  parseOciLayout(ociLayout, join(opts.layoutDir, OCI_LAYOUT_FILE));
  const indexJson = await readSmallFile(join(opts.layoutDir, INDEX_JSON), MAX_INDEX_JSON_BYTES);
  parseLayoutIndex(indexJson, join(opts.layoutDir, INDEX_JSON));

  const tracker = new MetadataTracker(manifest, where);
  checkOrder(opts.order, tracker.blobs);
  const blobFile = (d: Digest): string => join(opts.layoutDir, 'blobs', 'sha256', hexOf(d));
  const metadata: { blob: BundleBlob; data: Buffer }[] = [];
  const layers: BundleBlob[] = [];
  let metadataBytes = 0;
  for (const d of opts.order) {
    const blob = tracker.blobs.get(d)!;
    if (!tracker.expects(d)) {
      layers.push(blob);
      continue;
    }
    metadataBytes += blob.size;
    if (metadataBytes > MAX_METADATA_BYTES) {
      throw new AirlockError('USAGE', `manifests and configs add up to more than ${MAX_METADATA_BYTES} bytes`, { where });
    }
    const data = await readBlobFile(blobFile(d), blob);
    tracker.add(d, data);
    metadata.push({ blob, data });
  }
  if (!tracker.complete) throw new AirlockError('INTERNAL', 'the write order leaves out manifests or configs', { where });

  const front: EntrySpec[] = [
    { path: AIRLOCK_JSON, size: opts.airlockJson.length, body: () => opts.airlockJson },
    ...(opts.signature ? [{ path: AIRLOCK_SIGNATURE, size: opts.signature.length, body: () => opts.signature! }] : []),
    { path: OCI_LAYOUT_FILE, size: ociLayout.length, body: () => ociLayout },
    { path: INDEX_JSON, size: indexJson.length, body: () => indexJson },
    ...metadata.map(({ blob, data }) => ({ path: blobEntryName(blob.digest), size: data.length, body: () => data })),
  ];
  const progress = opts.onProgress;
  const store = opts.storeCompressedLayers ?? opts.compressionLevel === undefined;
  const blobEntry = (b: BundleBlob): EntrySpec => ({
    path: blobEntryName(b.digest),
    size: b.size,
    body: () => copyRange(blobFile(b.digest), 0, b.size, b.digest, progress),
    stored: store && isCompressedMediaType(b.mediaType),
  });

  if (opts.form === 'dir') {
    if (opts.volumes) throw new AirlockError('USAGE', 'a directory bundle cannot be split into volumes', { hint: 'write a .tar or .tar.zst with --split-size' });
    return writeDirectory(opts, [...front, ...layers.map(blobEntry)]);
  }
  if (opts.layers && writesInPlace(opts)) return writePlaced(opts, front, layers, blobEntry);
  if (!opts.volumes) {
    const file = await writeArchive(opts.output, opts, [...front, ...layers.map(blobEntry)]);
    return publish(opts.output, [file]);
  }

  // Split: assignments come from airlock.json (what readers trust); the plan must agree.
  const plan = opts.volumes;
  const count = manifest.volumes?.count;
  if (count !== plan.volumes.length || manifest.volumes?.maxSize !== plan.maxSize) {
    throw new AirlockError('INTERNAL', 'airlock.json volumes do not match the volume plan', { where });
  }
  const perVolume = Array.from({ length: count }, () => [] as EntrySpec[]);
  for (const b of layers) {
    if (b.volume !== undefined) perVolume[b.volume - 1]!.push(blobEntry(b));
    else if (!b.pieces) throw new AirlockError('INTERNAL', `airlock.json puts layer ${b.digest} in no volume`, { where });
  }
  for (const b of layers) {
    for (const p of b.pieces ?? []) {
      perVolume[p.volume - 1]!.push({
        path: pieceEntryName(b.digest, p.offset),
        size: p.size,
        body: () => copyRange(blobFile(b.digest), p.offset, p.size, p.digest, progress),
        stored: store && isCompressedMediaType(b.mediaType),
      });
    }
  }
  for (const v of plan.volumes) {
    const planned = new Set([...v.blobs.map((d) => blobEntryName(d)), ...v.pieces.map((p) => pieceEntryName(p.digest, p.offset))]);
    const actual = perVolume[v.number - 1]!.map((e) => e.path);
    if (actual.length !== planned.size || actual.some((p) => !planned.has(p))) {
      throw new AirlockError('INTERNAL', `airlock.json and the volume plan disagree on volume ${v.number}`, { where });
    }
  }
  const base = stripBundleExtension(opts.output);
  const volumes = perVolume.map((entries, i) => ({ path: formatVolumeName(base, i + 1, count, opts.form as 'tar' | 'tar.zst'), entries: [...front, ...entries] }));
  for (const v of volumes) {
    const tarBytes = v.entries.reduce((n, e) => n + tarEntryBytes(e.path, e.size), TAR_END_BYTES);
    const worst = opts.form === 'tar.zst' ? zstdCompressBound(tarBytes) : tarBytes;
    if (worst > plan.maxSize) {
      throw new AirlockError('INTERNAL', `volume ${basename(v.path)} could reach ${worst} bytes, over the ${plan.maxSize} allowed: the plan reserved too little for the front entries`, { where });
    }
  }
  const files: PendingFile[] = [];
  try {
    for (const v of volumes) files.push(await writeArchive(v.path, opts, v.entries));
  } catch (err) {
    await Promise.all(files.map((f) => rm(f.tmp, { force: true })));
    throw err;
  }
  return publish(opts.output, files);
}

/**
 * Whether writeBundle with these options writes the bundle in place (one file, each layer written
 * straight to its offset, several at once: archive/placed.ts) rather than as one stream: a
 * `.tar`, or a `.tar.zst` that stores compressed layers, not split into volumes.
 */
export function writesInPlace(opts: Pick<WriteBundleOptions, 'form' | 'volumes' | 'compressionLevel' | 'storeCompressedLayers'>): boolean {
  if (opts.volumes || opts.form === 'dir') return false;
  return opts.form === 'tar' || (opts.storeCompressedLayers ?? opts.compressionLevel === undefined);
}

/** Layers that an in-place write takes from `layers` (the rest are read from the staging, in the tail). */
export function placedInBundle(blob: Pick<BundleBlob, 'size' | 'mediaType'>, form: OutputForm): boolean {
  return blob.size > 0 && (form === 'tar' || isCompressedMediaType(blob.mediaType));
}

/**
 * The in-place writer: the front and every metadata blob at the start, each placed layer in a
 * region of its own, filled from `layers` with `concurrency` layers at once, then the tail
 * (layers whose compressed size is not known in advance) as a stream. checksums.txt's hash is
 * computed on a worker thread that follows the written prefix.
 */
async function writePlaced(
  opts: WriteBundleOptions, front: readonly EntrySpec[], layers: readonly BundleBlob[], blobEntry: (b: BundleBlob) => EntrySpec,
): Promise<WriteBundleResult> {
  const form = opts.form as 'tar' | 'tar.zst';
  // Smallest first: the downloads share the bandwidth, so in this order they tend to finish in
  // file order, and the hash of the whole file (which can only follow the written prefix) keeps
  // up instead of being left with most of the file at the end.
  const placed = layers.filter((b) => placedInBundle(b, form)).sort((a, b) => a.size - b.size);
  const tail = layers.filter((b) => !placedInBundle(b, form));
  const layout = layoutArchive([
    ...front.map((e) => ({ path: e.path, size: e.size, data: e.body() as Buffer })),
    ...placed.map((b) => ({ path: blobEntryName(b.digest), size: b.size })),
  ], form, opts.compressionLevel ?? 3);
  const tmp = tempNameFor(opts.output);
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx', 0o644);
  } catch (err) {
    throw ioError(err, 'create', tmp);
  }
  const hasher = new FileHasher(tmp);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // one listener per layer in flight, and the fetches' own
  const onAbort = (): void => stop.abort(opts.signal!.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const periodic = new PeriodicSync(fh);
  let counted = 0;
  const file: PlacedFile = new PlacedFile(fh, layout, (prefix) => {
    hasher.advance(prefix);
    periodic.wrote(file.written - counted);
    counted = file.written;
  });
  try {
    await file.writeLiterals();
    await forEachConcurrent(layout.regions, Math.max(1, opts.concurrency ?? 8), async (_region, i) => {
      const blob = placed[i]!;
      try {
        const src = await opts.layers!.fetch({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size }, { signal: stop.signal });
        const copied = pipeline(src, file.regionSink(i), { signal: stop.signal });
        if (opts.onProgress) src.on('data', (c: Buffer) => opts.onProgress!(c.length));
        await copied;
      } catch (err) {
        stop.abort(err);
        throw isAirlockError(err) ? err : ioError(err, 'write', opts.output);
      }
    }, stop.signal);
    if (stop.signal.aborted) throw stop.signal.reason;

    // The tail: the last region's padding, the layers kept out of regions, the end of the archive.
    await writeTarStream(file.tailSink(), opts, tail.map(blobEntry), stop.signal, layout.tailPrefix);
    await periodic.settle().catch((err: unknown) => {
      throw ioError(err, 'write', tmp);
    });
    await fh.sync();
    const sha256 = await hasher.finish(file.size);
    await fh.close();
    const published = await publish(opts.output, [{ tmp, final: opts.output, size: file.size, sha256 }]);
    return { ...published, places: new Map(layout.regions.map((r) => [r.path, regionRanges(r)])) };
  } catch (err) {
    stop.abort(err);
    await periodic.settle().catch(() => {});
    await hasher.abort();
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw isAirlockError(err) ? err : ioError(err, 'write', opts.output);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

interface PendingFile {
  readonly tmp: string;
  readonly final: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * Temporary names carry the writer's pid, so a later run can tell the leftovers of a killed one
 * (its pid is gone) from the files of a run still going: removeStaleTemporaries.
 */
export function tempNameFor(path: string, suffix = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomUUID().slice(0, 8)}.${suffix}`);
}

/** A staging directory beside `output` (see tempNameFor). */
export function stagingDirFor(output: string): string {
  return tempNameFor(output, 'staging');
}

const TEMP_NAME = /^\.(.+)\.(\d+)-[0-9a-f]{8}\.(?:tmp|staging)$/;

/**
 * Remove what killed exports to `output` left beside it: temporary bundle files, volumes and
 * directories, and staging directories, whose writer process no longer exists. Returns their names.
 */
export async function removeStaleTemporaries(output: string): Promise<string[]> {
  const dir = dirname(output);
  const stem = basename(stripBundleExtension(output));
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || !m[1]!.startsWith(stem)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function writeArchive(path: string, opts: WriteBundleOptions, entries: readonly EntrySpec[]): Promise<PendingFile> {
  const tmp = tempNameFor(path);
  const sink = new HashingFileSink(tmp);
  try {
    await writeTarStream(sink, opts, entries, opts.signal);
    return { tmp, final: path, size: sink.bytes, sha256: sink.sha256 };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * `entries` as a tar stream (zstd-compressed for 'tar.zst', stored entries in raw frames) into
 * `sink`, after `prefix` (tar bytes that continue an archive begun elsewhere), ended with the
 * end-of-archive blocks; resolves when the sink has finished. On failure both streams are
 * destroyed before it rejects.
 */
async function writeTarStream(sink: Writable, opts: WriteBundleOptions, entries: readonly EntrySpec[], signal: AbortSignal | undefined, prefix?: Buffer): Promise<void> {
  const compress = opts.form === 'tar.zst' ? createZstdCompressStream({ level: opts.compressionLevel ?? 3 }) : undefined;
  const out: Writable = compress ?? sink;
  const done = compress ? pipeline(compress, sink) : finished(sink);
  done.catch(() => {});
  try {
    if (prefix && prefix.length > 0 && !out.write(prefix)) await once(out, 'drain');
    const tar = createTarWriter(out);
    for (const e of entries) {
      if (signal?.aborted) throw abortError(signal);
      const body = e.body();
      await tar.addEntry(e.path, e.size, compress && e.stored && !Buffer.isBuffer(body) ? markAll(compress, body as AsyncIterable<Buffer>) : body);
    }
    await tar.finish();
    await done;
  } catch (err) {
    compress?.destroy();
    sink.destroy();
    await done.catch(() => {});
    throw err;
  }
}

async function writeDirectory(opts: WriteBundleOptions, entries: readonly EntrySpec[]): Promise<WriteBundleResult> {
  const exists = await stat(opts.output).then(() => true, () => false);
  if (exists) throw new AirlockError('IO', `${opts.output} already exists`, { where: opts.output, hint: 'choose a new output directory or remove the old one' });
  const tmp = tempNameFor(opts.output);
  const written: { rel: string; size: number; sha256: string }[] = [];
  try {
    await mkdir(join(tmp, 'blobs', 'sha256'), { recursive: true });
    for (const e of entries) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      // No fsync per file: the directory only becomes visible, by rename, once every file is whole.
      const sink = new HashingFileSink(join(tmp, e.path), { sync: false });
      const body = e.body();
      const src = Buffer.isBuffer(body) ? Readable.from([body]) : Readable.from(body as AsyncIterable<Buffer>);
      await pipeline(src, sink);
      if (sink.bytes !== e.size) throw new SizeMismatchError(e.path, e.size, sink.bytes, { where: opts.output });
      written.push({ rel: e.path, size: sink.bytes, sha256: sink.sha256 });
    }
    await rename(tmp, opts.output);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw isAirlockError(err) ? err : ioError(err, 'write', opts.output);
  }
  const files = written.map((w) => ({ path: join(opts.output, w.rel), size: w.size, sha256: w.sha256 }));
  const checksums = join(dirname(opts.output), CHECKSUMS_FILE);
  await writeFileAtomic(checksums, files.map((f) => `${f.sha256}  ${relative(dirname(opts.output), f.path)}\n`).join(''));
  return { files, checksums };
}

async function publish(output: string, pending: readonly PendingFile[]): Promise<WriteBundleResult> {
  try {
    for (const f of pending) await rename(f.tmp, f.final);
  } catch (err) {
    await Promise.all(pending.map((f) => rm(f.tmp, { force: true })));
    throw ioError(err, 'rename', output);
  }
  const dir = dirname(output);
  const files = pending.map((f) => ({ path: f.final, size: f.size, sha256: f.sha256 }));
  const checksums = join(dir, CHECKSUMS_FILE);
  await writeFileAtomic(checksums, files.map((f) => `${f.sha256}  ${relative(dir, f.path)}\n`).join(''));
  return { files, checksums };
}

async function* markAll(compress: ZstdCompressStream, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const c of body) yield compress.markStored(c);
}

function checkOrder(order: readonly Digest[], bundleBlobs: ReadonlyMap<Digest, BundleBlob>): void {
  const seen = new Set<Digest>();
  for (const d of order) {
    if (!bundleBlobs.has(d)) throw new AirlockError('INTERNAL', `write order names ${d}, which airlock.json does not place in the bundle`);
    if (seen.has(d)) throw new AirlockError('INTERNAL', `write order names ${d} twice`);
    seen.add(d);
  }
  if (seen.size !== bundleBlobs.size) throw new AirlockError('INTERNAL', `write order leaves out ${bundleBlobs.size - seen.size} blobs that airlock.json places in the bundle`);
}

async function readSmallFile(path: string, max: number): Promise<Buffer> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size > max) throw new AirlockError('USAGE', `${path} is larger than ${max} bytes`, { where: path });
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError(err, 'read', path);
  }
}

async function readBlobFile(path: string, blob: BundleBlob): Promise<Buffer> {
  const data = await readSmallFile(path, blob.size);
  const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  if (data.length !== blob.size) throw new SizeMismatchError(blob.digest, blob.size, data.length, { where: path });
  if (actual !== blob.digest) throw new DigestMismatchError(blob.digest, actual, data.length, { where: path, hint: 'the staging directory is damaged: run the export again' });
  return data;
}

/** Bytes [start, start+size) of a staged blob, hashed as they pass and checked at the end. */
async function* copyRange(path: string, start: number, size: number, digest: Digest, onProgress?: (n: number) => void): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let n = 0;
  if (size > 0) {
    const rs = createReadStream(path, { start, end: start + size - 1, highWaterMark: 1 << 20 });
    try {
      for await (const c of rs as AsyncIterable<Buffer>) {
        hash.update(c);
        n += c.length;
        onProgress?.(c.length);
        yield c;
      }
    } catch (err) {
      throw ioError(err, 'read', path);
    } finally {
      rs.destroy();
    }
  }
  if (n !== size) throw new SizeMismatchError(digest, size, n, { where: path, hint: 'the staging directory is damaged: run the export again' });
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw new DigestMismatchError(digest, actual, n, { where: path, hint: 'the staging directory is damaged: run the export again' });
}
