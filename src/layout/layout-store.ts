import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, ioError } from '../errors.js';
import { isVerifiedFor, verifyStream, type CallOptions, type ContentSink, type ContentSource } from '../content/index.js';
import {
  ANNOTATION_REF_NAME, MEDIA_TYPE_OCI_INDEX, hexOf, isDigest, parseDescriptor, type Descriptor, type Digest,
} from '../oci/index.js';
import { writeFileAtomic } from '../util/index.js';

/** https://github.com/opencontainers/image-spec/blob/main/image-layout.md#oci-layout-file */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

export interface LayoutStoreOptions {
  /** Called with bytes as each blob is written (progress). */
  readonly onBytes?: (n: number) => void;
}

/**
 * An OCI image layout on a directory, as a ContentSource and ContentSink. Blobs are ingested under
 * `ingest/`, verified while they stream, and renamed into `blobs/sha256/` when whole; `index.json`
 * is only written by writeIndex(), last.
 */
export class LayoutStore implements ContentSource, ContentSink {
  readonly root: string;
  readonly #tags = new Map<string, Descriptor>();
  readonly #opts: LayoutStoreOptions;
  #ready: Promise<void> | undefined;

  constructor(root: string, opts: LayoutStoreOptions = {}) {
    this.root = root;
    this.#opts = opts;
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  async init(): Promise<void> {
    this.#ready ??= (async () => {
      try {
        await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
        await mkdir(join(this.root, 'ingest'), { recursive: true });
        await writeFile(join(this.root, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT, { flag: 'w' });
      } catch (err) {
        throw ioError(err, 'create the OCI layout at', this.root);
      }
    })();
    return this.#ready;
  }

  async exists(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    return this.holdsFile(desc);
  }

  /**
   * The blob is a whole file of this store (`exists` may know of blobs held some other way); of
   * its size, when the caller knows it.
   */
  async holdsFile(desc: Pick<Descriptor, 'digest'> & { readonly size?: number }): Promise<boolean> {
    try {
      const s = await stat(this.blobPath(desc.digest));
      return s.isFile() && (desc.size === undefined || s.size === desc.size);
    } catch {
      return false;
    }
  }

  async resolve(reference: string): Promise<Descriptor> {
    if (isDigest(reference)) {
      const s = await stat(this.blobPath(reference)).catch(() => undefined);
      if (s) return { mediaType: 'application/octet-stream', digest: reference, size: s.size };
    }
    const index = await this.readIndex();
    const d = index.find((m) => m.annotations?.[ANNOTATION_REF_NAME] === reference) ?? this.#tags.get(reference);
    if (!d) throw new AirlockError('NOT_FOUND', `${reference} is not in the layout`, { where: this.root });
    return d;
  }

  async fetch(desc: Pick<Descriptor, 'digest'>, opts: CallOptions = {}): Promise<Readable> {
    const path = this.blobPath(desc.digest);
    await stat(path).catch((err: unknown) => {
      throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in the layout`, { where: path, cause: err });
    });
    return createReadStream(path, { highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  async readBlob(desc: Pick<Descriptor, 'digest'>): Promise<Buffer> {
    return readFile(this.blobPath(desc.digest));
  }

  async push(desc: Descriptor, body: Readable, opts: CallOptions = {}): Promise<void> {
    await this.init();
    if (await this.holdsFile(desc)) {
      body.resume();
      return;
    }
    const tmp = join(this.root, 'ingest', `${hexOf(desc.digest)}.${randomUUID()}`);
    // A body that already verifies this descriptor (the copy engine's verifyStream) is not hashed a
    // second time: it fails before it ends if the bytes are wrong, and the rename waits for its end.
    const checked = isVerifiedFor(body, desc) && !this.#opts.onBytes;
    try {
      const file = createWriteStream(tmp, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 });
      const options = opts.signal ? { signal: opts.signal } : {};
      if (checked) await pipeline(body, file, options);
      else await pipeline(body, verifyStream(desc, { where: `blob ${desc.digest}`, ...(this.#opts.onBytes ? { onProgress: this.#opts.onBytes } : {}) }), file, options);
      await rename(tmp, this.blobPath(desc.digest));
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw err instanceof AirlockError ? err : ioError(err, 'write blob into', this.root);
    }
  }

  async pushBytes(desc: Descriptor, bytes: Buffer): Promise<void> {
    await this.push(desc, Readable.from([bytes]));
  }

  /**
   * Make `desc` present here by linking the file of another store (no copy when on one
   * filesystem). A store that holds the blob other than as a file of its own (the download
   * cache's references into bundles) has it copied, verified, instead.
   */
  async linkFrom(other: LayoutStore, desc: Descriptor): Promise<void> {
    await this.init();
    if (await this.holdsFile(desc)) return;
    const from = other.blobPath(desc.digest);
    const to = this.blobPath(desc.digest);
    try {
      await link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code === 'ENOENT') {
        await this.push(desc, await other.fetch(desc));
        return;
      }
      if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK') {
        await symlink(from, to).catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, 'link blob into', this.root);
        });
        return;
      }
      throw ioError(err, 'link blob into', this.root);
    }
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    if (!(await this.exists(desc))) {
      throw new AirlockError('INTERNAL', `tagging ${desc.digest} before it is in the layout`, { where: this.root });
    }
    this.#tags.set(tag, desc);
  }

  async readIndex(): Promise<Descriptor[]> {
    let raw: string;
    try {
      raw = await readFile(join(this.root, 'index.json'), 'utf8');
    } catch {
      return [];
    }
    const doc = JSON.parse(raw) as { manifests?: unknown[] };
    return (doc.manifests ?? []).map((m, i) => parseDescriptor(m, `index.json manifests[${i}]`));
  }

  /** Write index.json (last): the tagged descriptors plus `extra`, each annotated with its ref name. */
  async writeIndex(extra: readonly Descriptor[] = []): Promise<Buffer> {
    await this.init();
    const manifests = [
      ...[...this.#tags.entries()].map(([ref, d]) => ({ ...d, annotations: { ...d.annotations, [ANNOTATION_REF_NAME]: ref } })),
      ...extra,
    ];
    const bytes = Buffer.from(`${JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests }, null, 2)}\n`);
    await writeFileAtomic(join(this.root, 'index.json'), bytes);
    return bytes;
  }

  async removeIngest(): Promise<void> {
    await rm(join(this.root, 'ingest'), { recursive: true, force: true });
  }
}
