import { constants, createReadStream, type ReadStream } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { AirlockError, ioError, isAirlockError } from '../errors.js';
import {
  createZstdDecompressStream, createZstdFileStream, detectBundleForm, indexTar, locateEntries, parseVolumeName, readFileRanges, readTarEntries, SyncTarFile,
  type BundleForm, type EntryPlace, type FileRange, type TarEntry, type ZstdFileStream,
} from '../archive/index.js';
import { readVerified, type ContentSource } from '../content/index.js';
import { hexOf, type Descriptor, type Digest } from '../oci/index.js';
import { AIRLOCK_JSON, AIRLOCK_SIGNATURE, type BlobPiece, type BundleBlob } from './types.js';
import { INDEX_JSON, OCI_LAYOUT_FILE, blobEntryName, parseEntryName, pieceEntryName } from './entry-names.js';
import { MAX_AIRLOCK_JSON_BYTES, bundleIdOf, parseAirlockManifest } from './manifest.js';
import {
  MAX_INDEX_JSON_BYTES, MAX_OCI_LAYOUT_BYTES, MAX_SIGNATURE_BYTES, parseLayoutIndex, parseOciLayout,
} from './layout-files.js';
import { MAX_METADATA_BYTES, MetadataTracker } from './metadata.js';
import { frontEntriesOf, notListed, readEntryCapped, readFrontEntries, sizeDiffers, type FrontData, type FrontEntry, type FrontResult } from './front.js';
import { BundleContentSource, type EntryLocation } from './source.js';

export type { FrontData } from './front.js';

export interface BundleBlobEntry {
  /** The whole blob's descriptor (for a piece too). */
  readonly desc: Descriptor;
  /** Unverified bytes: the caller pipes them through verifyStream (for a piece, against `piece`). */
  readonly body: Readable;
  /** Split bundles: the volume the entry came from. */
  readonly volume?: number;
  /** Set when the entry is one piece of a blob cut across volumes. */
  readonly piece?: BlobPiece;
  /**
   * blobs({ inPlace: true }): where the entry's bytes lie in the file, when they are stored there
   * as they are (a plain .tar, raw zstd blocks): they can be hashed in place. The body then reads them from
   * there, only when it is read.
   */
  readonly place?: EntryInPlace;
}

/** File ranges holding an entry's bytes, in order. */
export interface EntryInPlace {
  readonly path: string;
  readonly ranges: readonly FileRange[];
}

export interface BlobsOptions {
  readonly signal?: AbortSignal;
  /**
   * Index each volume first (locateEntries: tar headers; a .tar.zst's block headers) and, when it
   * indexes and every entry after its front lies in raw blocks or in small compressed frames, take the entries
   * from that index (with `place`) instead of decompressing the file front to back. The same
   * checks apply to the entries either way; a volume that does not index is read as before.
   */
  readonly inPlace?: boolean;
  /**
   * With `inPlace`: each layer or piece entry airlock.json lists, as soon as the index has found it
   * in raw blocks and before the rest of the volume is indexed or the entry is checked: a caller
   * may start hashing it early. No promise: the entry is yielded (with this place) only if the
   * volume indexes and its checks pass.
   */
  readonly onPlaced?: (place: EntryInPlace) => void;
}

export interface GivenVolume {
  readonly path: string;
  readonly form: BundleForm;
  /** Known once an entry of the volume has been read (or from its name). */
  readonly number: number | undefined;
}

export interface MissingBlob {
  readonly digest: Digest;
  /** Volumes that hold the blob (or its missing pieces). */
  readonly volumes: readonly number[];
}

export interface BundleReader extends FrontData {
  readonly form: BundleForm;
  readonly volumes: readonly GivenVolume[];
  /** Bytes read from disk so far. */
  readonly bytesRead: number;
  /**
   * The remaining entries (layers and pieces) of every given volume, front to back, once. Each body
   * must be consumed or abandoned before the next. A given volume that lacks an entry airlock.json
   * promises for it is BUNDLE_INCOMPLETE at its end.
   */
  blobs(opts?: BlobsOptions): AsyncIterable<BundleBlobEntry>;
  /** Blobs whole in what was given and read so far: metadata, whole layers, blobs with every piece seen. */
  presentBlobs(): ReadonlySet<Digest>;
  /** Blobs of the bundle that the given volumes do not hold, with the volumes that do. */
  missing(): readonly MissingBlob[];
  /** Random access for directory and uncompressed tar bundles (bundle serve). */
  source(): ContentSource;
  /**
   * Random access for reading layers in any order, several at once: a single whole .tar, a
   * .tar.zst whose layers are all stored in raw blocks (as airlock writes them), when every blob
   * airlock.json places in it is there with its size and nothing else is, or a directory whose
   * layers are all regular files of their sizes. Undefined otherwise:
   * read the layers with blobs(), which reports what is wrong. Either this or blobs(), not both.
   */
  randomAccess(): Promise<ContentSource | undefined>;
  close(): Promise<void>;
}

export interface OpenBundleOptions {
  readonly signal?: AbortSignal;
}

const READ_HIGH_WATER_MARK = 1 << 20;

/** A tar or tar.zst volume read front to back. */
class TarSession {
  readonly path: string;
  readonly form: 'tar' | 'tar.zst';
  readonly #file: ReadStream | ZstdFileStream;
  readonly it: AsyncGenerator<TarEntry, void, undefined>;

  /**
   * With `offThread`, a .tar.zst is read and decompressed on a worker thread (worth it for reading
   * layers: the main thread is left to parse and hash); without, in this thread (cheaper to start,
   * for reading only the front).
   */
  constructor(path: string, form: 'tar' | 'tar.zst', signal?: AbortSignal, offThread = false) {
    this.path = path;
    this.form = form;
    let plain: Readable;
    if (form === 'tar.zst' && offThread) {
      this.#file = plain = createZstdFileStream(path);
    } else {
      const file = createReadStream(path, { highWaterMark: READ_HIGH_WATER_MARK });
      this.#file = file;
      plain = form === 'tar.zst' ? pipeline(file, createZstdDecompressStream({ where: path }), () => {}) : file;
    }
    this.it = readTarEntries(plain, { where: path, ...(signal ? { signal } : {}) });
  }

  get bytesRead(): number {
    return this.#file.bytesRead;
  }

  async close(): Promise<void> {
    await this.it.return(undefined).catch(() => {});
    this.#file.destroy();
  }
}

/**
 * Open a bundle: a directory, a .tar, a .tar.zst, or one or more volumes of a split bundle (any
 * order; all must carry the same airlock.json). Reads only the front (airlock.json, signature,
 * oci-layout, index.json, manifests and configs); layers come later from `blobs()`.
 */
export async function openBundle(paths: readonly string[], opts: OpenBundleOptions = {}): Promise<BundleReader> {
  if (paths.length === 0) throw new AirlockError('USAGE', 'no bundle given');
  const forms = await Promise.all(paths.map((p) => detectBundleForm(p)));
  if (forms[0] === 'dir') {
    if (paths.length > 1) throw new AirlockError('USAGE', 'a directory bundle is opened alone', { hint: 'pass one bundle directory, or the volumes of one split bundle' });
    return DirBundleReader.open(paths[0]!);
  }
  if (forms.includes('dir')) throw new AirlockError('USAGE', 'a directory bundle is opened alone', { hint: 'pass one bundle directory, or the volumes of one split bundle' });
  // The first volume's front is read in this thread with blocking reads (sync-tar.ts): no worker
  // to start and no stream per entry, which was most of a no-op re-import's time. What that
  // cannot read is read again by the streaming reader, which reports what is wrong with it.
  let first: { session: TarSession; next: TarEntry | undefined } | undefined;
  const result: FrontResult = await readFrontInThread(paths[0]!, forms[0] as 'tar' | 'tar.zst') ?? await (async () => {
    const session = new TarSession(paths[0]!, forms[0] as 'tar' | 'tar.zst', opts.signal, true);
    try {
      const r = await readFrontEntries(frontEntriesOf(session.it), paths[0]!);
      first = { session, next: r.next };
      return r;
    } catch (err) {
      await session.close();
      throw err;
    }
  })();
  try {
    const { front, tracker } = result;
    if (paths.length > 1 && !front.manifest.volumes) {
      throw new AirlockError('USAGE', `${paths[0]} is a whole bundle, not a volume of a split bundle`, { hint: 'pass one bundle, or the volumes of one split bundle' });
    }
    // Every other volume must be of the same bundle: compare airlock.json now, read the rest later.
    for (let i = 1; i < paths.length; i++) {
      const s = new TarSession(paths[i]!, forms[i] as 'tar' | 'tar.zst', opts.signal);
      try {
        const r = await frontEntriesOf(s.it).next();
        const e = r.done ? undefined : r.value;
        const raw = e?.path === AIRLOCK_JSON ? await readEntryCapped(e, MAX_AIRLOCK_JSON_BYTES, paths[i]!) : undefined;
        if (!raw || !raw.equals(front.airlockRaw)) {
          throw new AirlockError('BUNDLE_UNREADABLE', `${paths[i]} is not a volume of the same bundle as ${paths[0]}`, {
            where: paths[i]!,
            hint: 'pass only volumes written by the same export (their airlock.json must be identical)',
          });
        }
      } finally {
        await s.close();
      }
    }
    return new TarBundleReader(paths, forms, first, front, tracker, first || !result.next ? undefined : { path: result.next.path, size: result.next.size });
  } catch (err) {
    await first?.session.close();
    throw err;
  }
}

/** The front of a .tar or .tar.zst read in this thread (SyncTarFile), or undefined if it cannot be. */
async function readFrontInThread(path: string, form: 'tar' | 'tar.zst'): Promise<FrontResult | undefined> {
  let file: SyncTarFile;
  try {
    file = new SyncTarFile(path, form);
  } catch {
    return undefined;
  }
  const entries = function* (): Generator<FrontEntry, void, undefined> {
    for (;;) {
      const e = file.next();
      if (!e) return;
      yield { path: e.path, size: e.size, bytes: () => file.read() };
    }
  };
  try {
    return await readFrontEntries(entries(), path);
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

abstract class BaseReader {
  readonly front: FrontData;
  readonly tracker: MetadataTracker;
  readonly present = new Set<Digest>();
  readonly piecesSeen = new Map<Digest, Set<number>>();

  constructor(front: FrontData, tracker: MetadataTracker) {
    this.front = front;
    this.tracker = tracker;
    for (const d of front.metadata.keys()) this.present.add(d);
  }

  get airlockRaw(): Buffer { return this.front.airlockRaw; }
  get manifest(): FrontData['manifest'] { return this.front.manifest; }
  get id(): Digest { return this.front.id; }
  get signature(): Buffer | undefined { return this.front.signature; }
  get ociLayoutRaw(): Buffer { return this.front.ociLayoutRaw; }
  get indexRaw(): Buffer { return this.front.indexRaw; }
  get index(): FrontData['index'] { return this.front.index; }
  get metadata(): ReadonlyMap<Digest, Buffer> { return this.front.metadata; }

  presentBlobs(): ReadonlySet<Digest> {
    return this.present;
  }

  missing(): readonly MissingBlob[] {
    const out: MissingBlob[] = [];
    for (const b of this.tracker.blobs.values()) {
      if (this.present.has(b.digest)) continue;
      const seen = this.piecesSeen.get(b.digest);
      const vols = b.pieces
        ? [...new Set(b.pieces.filter((p) => !seen?.has(p.offset)).map((p) => p.volume))]
        : b.volume !== undefined ? [b.volume] : [];
      out.push({ digest: b.digest, volumes: vols });
    }
    return out;
  }

  recordPiece(blob: BundleBlob, piece: BlobPiece): void {
    let seen = this.piecesSeen.get(blob.digest);
    if (!seen) this.piecesSeen.set(blob.digest, (seen = new Set()));
    seen.add(piece.offset);
    if (blob.pieces && seen.size === blob.pieces.length) this.present.add(blob.digest);
  }
}

function descOf(b: BundleBlob): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

class TarBundleReader extends BaseReader implements BundleReader {
  readonly form: BundleForm;
  readonly #paths: readonly string[];
  readonly #forms: readonly BundleForm[];
  readonly #numbers: (number | undefined)[];
  readonly #sessions: TarSession[] = [];
  #first: { session: TarSession; next: TarEntry | undefined } | undefined;
  /** Where the first volume's front ends, when it was read in this thread (no session to go on from). */
  #afterFront: { readonly next: { readonly path: string; readonly size: number } | undefined } | undefined;
  #iterated = false;
  #bytesRead = 0;
  #index: Map<string, EntryLocation> | undefined;

  /** `first`: the session that read the first volume's front, to go on from; without, blobs() reads that volume again from its start. */
  constructor(
    paths: readonly string[], forms: readonly BundleForm[], first: { session: TarSession; next: TarEntry | undefined } | undefined, front: FrontData, tracker: MetadataTracker,
    afterFront?: { readonly path: string; readonly size: number },
  ) {
    super(front, tracker);
    if (!first) this.#afterFront = { next: afterFront };
    this.form = forms[0]!;
    this.#paths = paths;
    this.#forms = forms;
    this.#numbers = paths.map(() => undefined);
    this.#first = first;
    if (first) this.#sessions.push(first.session);
  }

  get volumes(): readonly GivenVolume[] {
    return this.#paths.map((path, i) => ({ path, form: this.#forms[i]!, number: this.#numbers[i] ?? (this.manifest.volumes ? parseVolumeName(path)?.number : undefined) }));
  }

  get bytesRead(): number {
    return this.#bytesRead + this.#sessions.reduce((n, s) => n + s.bytesRead, 0);
  }

  blobs(opts: BlobsOptions = {}): AsyncIterable<BundleBlobEntry> {
    if (this.#iterated) throw new AirlockError('INTERNAL', 'bundle blobs can be read only once');
    this.#iterated = true;
    return this.#iterate(opts.signal, opts.inPlace === true, opts.onPlaced);
  }

  async *#iterate(signal: AbortSignal | undefined, inPlace: boolean, onPlaced: BlobsOptions['onPlaced']): AsyncGenerator<BundleBlobEntry> {
    const split = this.manifest.volumes !== undefined;
    for (let i = 0; i < this.#paths.length; i++) {
      const path = this.#paths[i]!;
      const form = this.#forms[i] as 'tar' | 'tar.zst';
      // In place: the index first (tar headers; for a .tar.zst, a few block headers per layer:
      // ~40-70 ms for the large bench bundle); the front is read by a session in this thread (a few MB) unless
      // it was just read, and the rest comes from the index. A volume with an entry in a large
      // compressed frame is read front to back (off this thread) as without `inPlace`.
      const early = onPlaced
        ? (name: string, e: EntryPlace): void => {
          if (e.ranges && this.#listedLayer(name)) onPlaced({ path, ranges: e.ranges });
        }
        : undefined;
      const located = inPlace ? await locateEntries(path, form, early ? { onEntry: early } : {}) : undefined;
      const places = located && [...located.values()].every((e) => e.ranges !== undefined || e.data !== undefined) ? located : undefined;
      let session: TarSession | undefined;
      let pending: PlacedTarEntry | undefined;
      // The first volume's front was read in this thread when the bundle was opened: with an
      // index, where it ends is known and the front is not read again.
      const known = i === 0 && !this.#first ? this.#afterFront : undefined;
      if (i === 0) this.#afterFront = undefined;
      let placed = places && known ? (known.next ? placedAfter(places, known.next, path, signal) : []) : undefined;
      if (!placed) {
        if (i === 0 && this.#first) {
          session = this.#first.session;
          pending = this.#first.next;
          this.#first = undefined;
        } else {
          session = new TarSession(path, form, signal, places === undefined);
          this.#sessions.push(session);
          const r = await readFrontEntries(frontEntriesOf(session.it), path, this.airlockRaw);
          this.#checkSameFront(r.front, path);
          pending = r.next;
        }
        placed = places && pending ? placedAfter(places, pending, path, signal) : undefined;
        if (placed) {
          // Every entry after the front comes from the index: the session is not read further.
          pending?.body.destroy();
          pending = undefined;
          await session.close();
        }
      }
      let k = 0;
      if (placed) pending = placed[k++];
      const fromIndex = placed;
      const fromSession = session;
      const nextEntry = fromIndex
        ? async (): Promise<PlacedTarEntry | undefined> => fromIndex[k++]
        : async (): Promise<PlacedTarEntry | undefined> => {
          const r = await fromSession!.it.next();
          return r.done ? undefined : r.value;
        };
      const seenHere = new Set<string>();
      let number: number | undefined;
      const claim = (n: number | undefined, entry: PlacedTarEntry): void => {
        if (!split) return;
        if (n === undefined) throw new AirlockError('BUNDLE_UNREADABLE', `entry ${entry.path} is in no volume of airlock.json`, { where: `${path}, entry ${entry.path}` });
        if (number === undefined) {
          const other = this.#numbers.indexOf(n);
          if (other >= 0) {
            throw new AirlockError('BUNDLE_UNREADABLE', `${path} and ${this.#paths[other]} are both volume ${n}`, { where: path, hint: 'pass each volume once' });
          }
          number = n;
          this.#numbers[i] = n;
        } else if (n !== number) {
          throw new AirlockError('BUNDLE_UNREADABLE', `entry ${entry.path} belongs to volume ${n}, but this file is volume ${number}`, {
            where: `${path}, entry ${entry.path}`, hint: 'the volume was altered or assembled from several: get a fresh copy',
          });
        }
      };
      try {
        for (;;) {
          let entry: PlacedTarEntry | undefined = pending;
          pending = undefined;
          if (!entry) {
            entry = await nextEntry();
            if (!entry) break;
          }
          const name = parseEntryName(entry.path);
          if (name?.kind === 'blob') {
            const blob = this.tracker.blobs.get(name.digest);
            if (!blob || this.tracker.isMetadata(name.digest) || blob.pieces) throw notListed(entry, path);
            if (entry.size !== blob.size) throw sizeDiffers(entry, blob.size, path);
            claim(blob.volume, entry);
            if (!split && blob.volume !== undefined) throw notListed(entry, path);
            seenHere.add(entry.path);
            yield { desc: descOf(blob), body: entry.body, ...(number !== undefined ? { volume: number } : {}), ...(entry.place ? { place: entry.place } : {}) };
            this.present.add(blob.digest);
          } else if (name?.kind === 'piece') {
            const blob = this.tracker.blobs.get(name.digest);
            const piece = blob?.pieces?.find((p) => p.offset === name.offset);
            if (!blob || !piece) throw notListed(entry, path);
            if (entry.size !== piece.size) throw sizeDiffers(entry, piece.size, path);
            claim(piece.volume, entry);
            seenHere.add(entry.path);
            yield { desc: descOf(blob), body: entry.body, volume: piece.volume, piece, ...(entry.place ? { place: entry.place } : {}) };
            this.recordPiece(blob, piece);
          } else {
            throw notListed(entry, path);
          }
        }
      } finally {
        await session?.close();
      }
      if (number === undefined && split) {
        number = parseVolumeName(path)?.number ?? (this.manifest.volumes?.count === 1 ? 1 : undefined);
        if (number !== undefined) this.#numbers[i] = number;
      }
      this.#checkComplete(path, split ? number : undefined, seenHere);
    }
  }

  async randomAccess(): Promise<ContentSource | undefined> {
    if (this.#iterated || this.manifest.volumes !== undefined || this.#paths.length !== 1) return undefined;
    const path = this.#paths[0]!;
    const found = new Map<string, EntryLocation>();
    // A .tar.zst: the compressed frames (the front, tar headers) and a few block headers per
    // stored layer (the rest are predicted, and checked as the layer is read: zstd-index.ts):
    // ~40-70 ms for the large bench bundle in a fresh process.
    const places = await locateEntries(path, this.#forms[0] as 'tar' | 'tar.zst');
    if (!places) return undefined;
    for (const [name, e] of places) {
      if (e.ranges) found.set(name, { path, offset: e.ranges[0]?.offset ?? 0, size: e.size, ranges: e.ranges });
      else if (e.data) found.set(name, { path, offset: 0, size: e.size, bytes: e.data });
      else return undefined; // a large entry in compressed frames: read front to back
    }
    // Exactly what airlock.json promises, as blobs() would insist.
    for (const [name, loc] of found) {
      const n = parseEntryName(name);
      if (!n || n.kind === 'piece') return undefined;
      if (n.kind !== 'blob') continue;
      const blob = this.tracker.blobs.get(n.digest);
      if (!blob || blob.pieces || blob.volume !== undefined || loc.size !== blob.size) return undefined;
    }
    for (const b of this.tracker.blobs.values()) {
      if (!this.tracker.isMetadata(b.digest) && !found.has(blobEntryName(b.digest))) return undefined;
    }
    // The front session's read-ahead is not needed any more.
    this.#iterated = true;
    const first = this.#first;
    this.#first = undefined;
    await first?.session.close();
    for (const b of this.tracker.blobs.values()) this.present.add(b.digest);
    return new BundleContentSource(this.front, async (name) => found.get(name));
  }

  /** A layer or piece entry name airlock.json lists (not a manifest or config). */
  #listedLayer(name: string): boolean {
    const n = parseEntryName(name);
    if (n?.kind !== 'blob' && n?.kind !== 'piece') return false;
    const blob = this.tracker.blobs.get(n.digest);
    return blob !== undefined && !this.tracker.isMetadata(n.digest);
  }

  #checkSameFront(f: FrontData, path: string): void {
    const same = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));
    if (!same(f.signature, this.signature) || !f.ociLayoutRaw.equals(this.ociLayoutRaw) || !f.indexRaw.equals(this.indexRaw)) {
      throw new AirlockError('BUNDLE_UNREADABLE', `${path} carries a different signature, oci-layout or index.json than the first volume`, {
        where: path, hint: 'pass only volumes written by the same export; get a fresh copy of this one',
      });
    }
  }

  #checkComplete(path: string, number: number | undefined, seen: ReadonlySet<string>): void {
    const lacking: string[] = [];
    for (const b of this.tracker.blobs.values()) {
      if (this.tracker.isMetadata(b.digest)) continue;
      if (b.pieces) {
        for (const p of b.pieces) if (p.volume === number && !seen.has(pieceEntryName(b.digest, p.offset))) lacking.push(pieceEntryName(b.digest, p.offset));
      } else if (b.volume === number && !seen.has(blobEntryName(b.digest))) lacking.push(blobEntryName(b.digest));
    }
    if (lacking.length > 0) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `${path} lacks ${lacking.length} entr${lacking.length === 1 ? 'y' : 'ies'} that airlock.json promises, first ${lacking[0]}`, {
        where: path, hint: 'the file is incomplete or damaged: copy it again and check it against checksums.txt',
      });
    }
  }

  source(): ContentSource {
    if (this.#forms.some((f) => f !== 'tar')) {
      throw new AirlockError('USAGE', 'random access needs an uncompressed .tar bundle or a directory', {
        hint: 'decompress the bundle first (zstd -d), or export with -o OUT.tar or to a directory',
      });
    }
    return new BundleContentSource(this.front, async (name) => (await this.#indexAll()).get(name));
  }

  async #indexAll(): Promise<Map<string, EntryLocation>> {
    if (this.#index) return this.#index;
    const index = new Map<string, EntryLocation>();
    for (const path of this.#paths) {
      for (const [name, loc] of await indexTar(path)) if (!index.has(name)) index.set(name, { path, offset: loc.offset, size: loc.size });
    }
    this.#index = index;
    return index;
  }

  async close(): Promise<void> {
    this.#first = undefined;
    await Promise.all(this.#sessions.map((s) => s.close()));
  }
}

/** An entry of a tar session, or one taken from an index (with its place when stored in raw blocks). */
type PlacedTarEntry = Pick<TarEntry, 'path' | 'size' | 'body'> & { readonly place?: EntryInPlace };

/**
 * The entries of an indexed .tar or .tar.zst from `first` (the first after the front, as the session read
 * it) to the end, in file order: those in raw blocks with their ranges and a body that reads them
 * only when read, small ones of compressed frames with their bytes. Undefined (read the file
 * front to back) when `first` is not where the index has it or an entry lies in a large
 * compressed frame.
 */
function placedAfter(entries: ReadonlyMap<string, EntryPlace>, first: { readonly path: string; readonly size: number }, path: string, signal: AbortSignal | undefined): PlacedTarEntry[] | undefined {
  const all = [...entries];
  const at = all.findIndex(([name]) => name === first.path);
  if (at < 0 || all[at]![1].size !== first.size) return undefined;
  const out: PlacedTarEntry[] = [];
  for (const [name, e] of all.slice(at)) {
    if (e.ranges) {
      const ranges = e.ranges;
      out.push({ path: name, size: e.size, place: { path, ranges }, body: lazyBody(() => readFileRanges(path, ranges, signal)) });
    } else if (e.data) {
      out.push({ path: name, size: e.size, body: Readable.from([e.data], { objectMode: false }) });
    } else {
      return undefined;
    }
  }
  return out;
}

/** A stream that opens its source only when first read (a destroyed one never does). */
function lazyBody(open: () => Readable): Readable {
  return Readable.from((async function* () {
    yield* open();
  })(), { objectMode: false });
}

/** Files of a directory bundle are opened without following symlinks: a bundle holds only regular files. */
async function openNoFollow(path: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new AirlockError('UNSAFE_ARCHIVE_ENTRY', `${path} is a symbolic link`, { where: path, hint: 'a bundle directory holds only regular files: get a fresh copy' });
    }
    throw ioError(err, 'open', path);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new AirlockError('UNSAFE_ARCHIVE_ENTRY', `${path} is not a regular file`, { where: path, hint: 'a bundle directory holds only regular files: get a fresh copy' });
  }
  return fh;
}

async function readDirFile(path: string, max: number, optional = false): Promise<Buffer | undefined> {
  let fh: FileHandle;
  try {
    fh = await openNoFollow(path);
  } catch (err) {
    if (optional && isAirlockError(err) && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    if (size > max) throw new AirlockError('BUNDLE_UNREADABLE', `${path} is larger than ${max} bytes`, { where: path });
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

async function readDirFront(dir: string): Promise<{ front: FrontData; tracker: MetadataTracker; bytes: number }> {
  let bytes = 0;
  const must = async (name: string, max: number): Promise<Buffer> => {
    const b = await readDirFile(join(dir, name), max);
    if (!b) throw new AirlockError('BUNDLE_UNREADABLE', `${name} is missing`, { where: dir });
    bytes += b.length;
    return b;
  };
  const airlockRaw = await must(AIRLOCK_JSON, MAX_AIRLOCK_JSON_BYTES);
  const manifest = parseAirlockManifest(airlockRaw, join(dir, AIRLOCK_JSON));
  if (manifest.volumes) throw new AirlockError('BUNDLE_UNREADABLE', 'a directory bundle cannot be split into volumes', { where: dir });
  const signature = await readDirFile(join(dir, AIRLOCK_SIGNATURE), MAX_SIGNATURE_BYTES, true);
  bytes += signature?.length ?? 0;
  const ociLayoutRaw = await must(OCI_LAYOUT_FILE, MAX_OCI_LAYOUT_BYTES);
  parseOciLayout(ociLayoutRaw, join(dir, OCI_LAYOUT_FILE));
  const indexRaw = await must(INDEX_JSON, MAX_INDEX_JSON_BYTES);
  const index = parseLayoutIndex(indexRaw, join(dir, INDEX_JSON));
  const tracker = new MetadataTracker(manifest, dir);
  const metadata = new Map<Digest, Buffer>();
  let total = 0;
  // Manifests first (their media types are known), then the configs they name: a Set iterates
  // over what is added while it is iterated.
  for (const d of tracker.metadata) {
    const blob = tracker.blobs.get(d)!;
    total += blob.size;
    if (total > MAX_METADATA_BYTES) throw new AirlockError('BUNDLE_UNREADABLE', `manifests and configs add up to more than ${MAX_METADATA_BYTES} bytes`, { where: dir });
    const path = join(dir, blobEntryName(d));
    const fh = await openNoFollow(path).catch((err: unknown) => {
      if (isAirlockError(err) && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        throw new AirlockError('BUNDLE_INCOMPLETE', `blob ${d} is missing`, { where: path, hint: 'the bundle directory is incomplete: copy it again' });
      }
      throw err;
    });
    let data: Buffer;
    try {
      data = await readVerified(fh.createReadStream({ autoClose: false }), blob, MAX_METADATA_BYTES, { where: path });
    } finally {
      await fh.close();
    }
    bytes += data.length;
    tracker.expects(d);
    tracker.add(d, data);
    metadata.set(d, data);
  }
  return { front: { airlockRaw, manifest, id: bundleIdOf(airlockRaw), signature, ociLayoutRaw, indexRaw, index, metadata }, tracker, bytes };
}

class DirBundleReader extends BaseReader implements BundleReader {
  readonly form: BundleForm = 'dir';
  readonly #dir: string;
  readonly #open = new Set<FileHandle>();
  #bytesRead: number;
  #iterated = false;

  static async open(dir: string): Promise<DirBundleReader> {
    const { front, tracker, bytes } = await readDirFront(dir);
    return new DirBundleReader(dir, front, tracker, bytes);
  }

  private constructor(dir: string, front: FrontData, tracker: MetadataTracker, bytes: number) {
    super(front, tracker);
    this.#dir = dir;
    this.#bytesRead = bytes;
  }

  get volumes(): readonly GivenVolume[] {
    return [{ path: this.#dir, form: 'dir', number: undefined }];
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  blobs(): AsyncIterable<BundleBlobEntry> {
    if (this.#iterated) throw new AirlockError('INTERNAL', 'bundle blobs can be read only once');
    this.#iterated = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncGenerator<BundleBlobEntry> {
    const lacking: Digest[] = [];
    for (const blob of this.tracker.blobs.values()) {
      if (this.tracker.isMetadata(blob.digest)) continue;
      const path = join(this.#dir, 'blobs', 'sha256', hexOf(blob.digest));
      let fh: FileHandle;
      try {
        fh = await openNoFollow(path);
      } catch (err) {
        if (isAirlockError(err) && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
          lacking.push(blob.digest);
          continue;
        }
        throw err;
      }
      this.#open.add(fh);
      try {
        const { size } = await fh.stat();
        if (size !== blob.size) throw sizeDiffers({ path: blobEntryName(blob.digest), size }, blob.size, this.#dir);
        const body = fh.createReadStream({ highWaterMark: READ_HIGH_WATER_MARK, autoClose: false });
        yield { desc: descOf(blob), body };
        this.#bytesRead += body.bytesRead;
        body.destroy();
        this.present.add(blob.digest);
      } finally {
        this.#open.delete(fh);
        await fh.close();
      }
    }
    if (lacking.length > 0) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `the bundle directory lacks ${lacking.length} blob${lacking.length === 1 ? '' : 's'}, first ${lacking[0]}`, {
        where: this.#dir, hint: 'the directory is incomplete: copy it again and check it against checksums.txt',
      });
    }
  }

  /**
   * Every layer a regular file of its listed size (lstat: a symbolic link is not one): read in
   * place, several at once. Otherwise undefined, and blobs() reads them one by one and reports
   * what is missing, linked or of the wrong size. What is read is verified by the reader either way.
   */
  async randomAccess(): Promise<ContentSource | undefined> {
    if (this.#iterated) return undefined;
    const found = new Map<string, EntryLocation>();
    for (const b of this.tracker.blobs.values()) {
      if (this.tracker.isMetadata(b.digest)) continue;
      const name = blobEntryName(b.digest);
      const path = join(this.#dir, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st?.isFile() || st.size !== b.size) return undefined;
      found.set(name, { path, offset: 0, size: b.size });
    }
    this.#iterated = true;
    for (const b of this.tracker.blobs.values()) this.present.add(b.digest);
    return new BundleContentSource(this.front, async (name) => found.get(name));
  }

  source(): ContentSource {
    const dir = this.#dir;
    return new BundleContentSource(this.front, async (name) => {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => undefined);
      return st?.isFile() ? { path, offset: 0, size: st.size } : undefined;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#open].map((fh) => fh.close().catch(() => {})));
    this.#open.clear();
  }
}

export interface BundleFrontResult extends FrontData {
  readonly form: BundleForm;
  readonly path: string;
  /** Bytes read from disk to get the front (compressed bytes for .tar.zst). */
  readonly bytesRead: number;
}

/** The front of one bundle, volume or directory, for inspect: never reads past the manifests and configs. */
export async function readBundleFront(path: string, opts: OpenBundleOptions = {}): Promise<BundleFrontResult> {
  const form = await detectBundleForm(path);
  if (form === 'dir') {
    const { front, bytes } = await readDirFront(path);
    return { ...front, form, path, bytesRead: bytes };
  }
  const s = new TarSession(path, form, opts.signal);
  try {
    const { front } = await readFrontEntries(frontEntriesOf(s.it), path);
    return { ...front, form, path, bytesRead: s.bytesRead };
  } finally {
    await s.close();
  }
}
