import type { Readable } from 'node:stream';
import type { FileTree } from '../archive/index.js';
import { AirlockError } from '../errors.js';
import type { CallOptions, ContentSource } from '../content/index.js';
import {
  ANNOTATION_CONTAINERD_IMAGE_NAME, ANNOTATION_REF_NAME, hexOf, isDigest, parseDescriptor, type Descriptor,
} from '../oci/index.js';
import { OCI_LAYOUT_FILE } from './layout-store.js';

/** index.json of a layout with thousands of images is still well under this. */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const MAX_LAYOUT_FILE_BYTES = 4096;

/** One entry of a layout's index.json: what `layout:` / `archive:` offers as an image. */
export interface LayoutImage {
  readonly desc: Descriptor;
  /** `org.opencontainers.image.ref.name`: a tag (`v1`) or a whole name (`acme/app:1.0`, as skopeo writes it). */
  readonly refName?: string;
  /** `io.containerd.image.name`: a whole name. */
  readonly imageName?: string;
}

/**
 * A read-only OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * that another tool wrote: a directory (`skopeo copy ... oci:DIR`) or the same tree inside a tar
 * (`oci-archive:`), read through a FileTree, so nothing in it is followed outside it. Unlike
 * LayoutStore (airlock's own staging and cache, which links blobs across stores), it never writes
 * and never follows a link. Its digests are the layout's own: nothing is rewritten.
 */
export class OciLayoutSource implements ContentSource {
  readonly tree: FileTree;
  readonly images: readonly LayoutImage[];

  private constructor(tree: FileTree, images: readonly LayoutImage[]) {
    this.tree = tree;
    this.images = images;
  }

  /** Is `tree` an OCI layout (it has `oci-layout` and `index.json`)? */
  static async holdsLayout(tree: FileTree): Promise<boolean> {
    return (await tree.size(OCI_LAYOUT_FILE)) !== undefined && (await tree.size('index.json')) !== undefined;
  }

  static async open(tree: FileTree): Promise<OciLayoutSource> {
    const where = tree.where;
    const invalid = (what: string, cause?: unknown): AirlockError =>
      new AirlockError('MANIFEST_INVALID', `${where} is not a valid OCI layout: ${what}`, {
        where, hint: 'make it with `skopeo copy ... oci:DIR` or `oci-archive:FILE`, or check that the copy is complete',
        ...(cause !== undefined ? { cause } : {}),
      });
    if ((await tree.size(OCI_LAYOUT_FILE)) === undefined) throw invalid('it has no oci-layout file');
    const header = parseJson(await tree.read(OCI_LAYOUT_FILE, MAX_LAYOUT_FILE_BYTES), () => invalid('oci-layout is not JSON'));
    const version = (header as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) throw invalid(`unsupported imageLayoutVersion ${JSON.stringify(version)?.slice(0, 40)}`);
    if ((await tree.size('index.json')) === undefined) throw invalid('it has no index.json');
    const index = parseJson(await tree.read('index.json', MAX_INDEX_BYTES), () => invalid('index.json is not JSON'));
    const manifests = (index as { manifests?: unknown } | null)?.manifests;
    if (!Array.isArray(manifests)) throw invalid('index.json has no manifests list');
    const images = manifests.map((m, i): LayoutImage => {
      const desc = parseDescriptor(m, `${where} index.json manifests[${i}]`);
      const refName = desc.annotations?.[ANNOTATION_REF_NAME];
      const imageName = desc.annotations?.[ANNOTATION_CONTAINERD_IMAGE_NAME];
      return { desc, ...(refName ? { refName } : {}), ...(imageName ? { imageName } : {}) };
    });
    return new OciLayoutSource(tree, images);
  }

  /** By ref name, containerd image name, or the digest of an index.json entry. */
  async resolve(reference: string): Promise<Descriptor> {
    const hit = this.images.find((i) => i.refName === reference || i.imageName === reference || i.desc.digest === reference);
    if (!hit) throw new AirlockError('NOT_FOUND', `${reference} is not in the layout`, { where: this.tree.where });
    return hit.desc;
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    const name = blobName(desc);
    const size = await this.tree.size(name);
    if (size === undefined) {
      throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in ${this.tree.where}`, {
        where: `${this.tree.where}, ${name}`, hint: 'the layout is incomplete: make it again (skopeo copy --all ... oci:DIR)',
      });
    }
    if (size !== desc.size) {
      throw new AirlockError('SIZE_MISMATCH', `${name} in ${this.tree.where} has ${size} bytes, its descriptor says ${desc.size}`, {
        where: `${this.tree.where}, ${name}`, hint: 'the layout was altered or damaged: get a fresh copy',
      });
    }
    return this.tree.open(name, opts);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return (await this.tree.size(blobName(desc))) === desc.size;
  }
}

/** `blobs/<algorithm>/<encoded>` (image-layout.md "Blobs"). */
function blobName(desc: Pick<Descriptor, 'digest'>): string {
  if (!isDigest(desc.digest)) throw new AirlockError('DIGEST_INVALID', `invalid digest ${String(desc.digest).slice(0, 80)}`);
  return `blobs/sha256/${hexOf(desc.digest)}`;
}

function parseJson(bytes: Buffer, fail: () => AirlockError): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw fail();
  }
}
