import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { bytesOfRanges, expandRanges, locateEntries, rangeEnd, readFileRanges, type FileRange } from '../archive/index.js';
import { AirlockError, isAirlockError, mismatchedDigest } from '../errors.js';
import { verifyStream, type CallOptions } from '../content/index.js';
import { hexOf, isDigest, type Descriptor, type Digest } from '../oci/index.js';
import { LayoutStore } from '../layout/index.js';
import { forEachConcurrent, writeFileAtomic } from '../util/index.js';

/** Where a blob lies in a bundle this cache's user wrote: the file as it was, and the blob's ranges in it. */
interface BlobRef {
  readonly v: 1;
  readonly path: string;
  /** The bundle file's size and modification time when the reference was made. */
  readonly fileSize: number;
  readonly mtimeMs: number;
  /** [offset, length] pairs; their lengths add up to the blob's size. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** A reference is a few KB per 100 MB of layer; anything much larger is not one of ours. */
const MAX_REF_BYTES = 4 << 20;

/**
 * The download cache: an OCI layout's blob store (verified on the way in, reused across exports),
 * plus references into bundles already written. A layer that an export writes in place into a
 * .tar or .tar.zst (bundle/writer.ts writesInPlace) is not copied into the cache as well (one
 * write of each blob: half the disk traffic of an export, and half its disk space): the cache
 * records where in the bundle the layer lies, and a later export reads it from there for as long
 * as the bundle stays where it was written, unchanged (same size and modification time). What is
 * read through a reference is verified against its digest like everything else, so a reference
 * is only a hint, never a wrong byte: a stale one (the bundle moved, resized or touched) costs a
 * download; one whose bytes were changed in place fails the read (DIGEST_MISMATCH) and is dropped,
 * and the export evicts it and downloads the blob again in the same run (ops/export.ts), as it
 * does for a cache file whose bytes are wrong.
 */
export class DownloadCache extends LayoutStore {
  refPath(digest: Digest): string {
    return join(this.root, 'refs', 'sha256', `${hexOf(digest)}.json`);
  }

  override async exists(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    return (await this.holdsFile(desc)) || (await this.#reference(desc)) !== undefined;
  }

  /**
   * A cache file as it is (callers verify it), or the bytes a reference points at, verified here
   * as they stream (a self-verifying stream, content isVerifiedFor: callers need not hash them again): a reference
   * whose bytes are wrong (the bundle was changed in place, keeping its size and mtime) fails
   * DIGEST_MISMATCH and is dropped (the export then downloads the blob again).
   */
  override async fetch(desc: Pick<Descriptor, 'digest'> & { readonly size?: number }, opts: CallOptions = {}): Promise<Readable> {
    if (await this.holdsFile(desc)) return super.fetch(desc, opts);
    const ref = await this.#reference(desc);
    if (!ref) throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in the cache`, { where: this.root });
    const checked = verifyStream({ digest: desc.digest, size: bytesOfRanges(ref.ranges) }, { where: `blob ${desc.digest} in ${ref.path} (a download cache reference)` });
    pipeline(readFileRanges(ref.path, ref.ranges, opts.signal), checked, (err) => {
      if (isAirlockError(err) && (err.code === 'DIGEST_MISMATCH' || err.code === 'SIZE_MISMATCH' || err.code === 'BUNDLE_UNREADABLE')) {
        void this.dropReference(desc.digest).catch(() => {});
      }
    });
    return checked;
  }

  /**
   * Whether what the cache holds for `desc` (a file or a reference) has the right bytes: read and
   * hashed in full. False when it holds nothing, or something else.
   */
  async holdsIntact(desc: Pick<Descriptor, 'digest' | 'size'>, opts: CallOptions = {}): Promise<boolean> {
    if (!(await this.exists(desc))) return false;
    try {
      const body = await this.fetch(desc, opts);
      await pipelineAsync(body, verifyStream(desc, { where: `blob ${desc.digest} in the download cache` }), new Writable({ write: (_c, _e, cb) => cb() }));
      return true;
    } catch (err) {
      if (mismatchedDigest(err) !== undefined) return false;
      throw err;
    }
  }

  /** Forget everything held for `digest`, a file or a reference: its bytes turned out wrong. */
  async evict(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
    await this.dropReference(digest);
  }

  /** Forget a reference whose bytes turned out wrong (the bundle changed under it). */
  async dropReference(digest: Digest): Promise<void> {
    await rm(this.refPath(digest), { force: true });
  }

  /**
   * Remember where the blobs `digests` lie in the bundle just written at `path` (a whole .tar or
   * .tar.zst), as found by indexing it, or as `known` says (the writer's layout: bundle/writer.ts
   * WriteBundleResult.places, which saves reading the block headers of the whole file back): only
   * blobs stored as plain file ranges (raw zstd blocks). Returns how many were recorded.
   */
  async recordBundle(
    given: string, form: 'tar' | 'tar.zst', blobs: readonly Pick<Descriptor, 'digest' | 'size'>[], known?: ReadonlyMap<string, readonly FileRange[]>,
  ): Promise<number> {
    const path = resolve(given);
    const st = await stat(path);
    const rangesOf = known ? (name: string) => known.get(name) : await indexed(path, form);
    if (!rangesOf) return 0;
    await mkdir(join(this.root, 'refs', 'sha256'), { recursive: true });
    let n = 0;
    // Several at once: each is fsync'd, and the file system commits them together.
    await forEachConcurrent(blobs, REF_WRITES, async (b) => {
      const ranges = rangesOf(`blobs/sha256/${hexOf(b.digest)}`);
      if (!ranges || bytesOfRanges(ranges) !== b.size) return;
      const ref: BlobRef = { v: 1, path, fileSize: st.size, mtimeMs: st.mtimeMs, ranges: expandRanges(ranges).map((r) => [r.offset, r.length] as const) };
      await writeFileAtomic(this.refPath(b.digest), `${JSON.stringify(ref)}\n`);
      n++;
    });
    return n;
  }

  async #reference(desc: Pick<Descriptor, 'digest'> & { readonly size?: number }): Promise<{ path: string; ranges: FileRange[] } | undefined> {
    if (!isDigest(desc.digest)) return undefined;
    let raw: Buffer;
    try {
      const p = this.refPath(desc.digest);
      if ((await stat(p)).size > MAX_REF_BYTES) return undefined;
      raw = await readFile(p);
    } catch {
      return undefined;
    }
    const ref = parseRef(raw);
    if (!ref) return undefined;
    const ranges = ref.ranges.map(([offset, length]) => ({ offset, length }));
    if (desc.size !== undefined && bytesOfRanges(ranges) !== desc.size) return undefined;
    const st = await stat(ref.path).catch(() => undefined);
    if (!st?.isFile() || st.size !== ref.fileSize || st.mtimeMs !== ref.mtimeMs) return undefined;
    if (ranges.some((r) => rangeEnd(r) > st.size)) return undefined;
    return { path: ref.path, ranges };
  }
}

/** References written at once by recordBundle. */
const REF_WRITES = 16;

/** Entry ranges found by indexing the file (archive/locate.ts), or undefined when it cannot be indexed. */
async function indexed(path: string, form: 'tar' | 'tar.zst'): Promise<((name: string) => readonly FileRange[] | undefined) | undefined> {
  const places = await locateEntries(path, form);
  return places ? (name) => places.get(name)?.ranges : undefined;
}

function parseRef(raw: Buffer): BlobRef | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = doc as Partial<BlobRef>;
  const n = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (typeof r !== 'object' || r === null || r.v !== 1 || typeof r.path !== 'string' || !isAbsolute(r.path)) return undefined;
  if (!n(r.fileSize) || typeof r.mtimeMs !== 'number' || !Array.isArray(r.ranges)) return undefined;
  if (!r.ranges.every((x) => Array.isArray(x) && x.length === 2 && n(x[0]) && n(x[1]))) return undefined;
  return r as BlobRef;
}
