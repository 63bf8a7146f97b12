import { Readable } from 'node:stream';
import type { FileTree } from '../archive/index.js';
import { AirlockError, DigestMismatchError, abortError } from '../errors.js';
import type { CallOptions, ContentSource } from '../content/index.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED, MEDIA_TYPE_DOCKER_MANIFEST,
  createDigester, digestOf, isDigest, type Descriptor, type Digest,
} from '../oci/index.js';

/** `manifest.json` lists every image of the archive; a `docker save` of hundreds of tags is still small. */
const MAX_MANIFEST_JSON_BYTES = 16 * 1024 * 1024;
/** Image configs carry the build history; the largest seen in the wild are a few MB. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** The file `docker save` and c/image's `docker-archive:` writer put at the archive's root. */
export const DOCKER_ARCHIVE_MANIFEST = 'manifest.json';

/** One image of a docker-archive, with the manifest airlock made for it. */
export interface DockerArchiveImage {
  /** Position in manifest.json (0-based). */
  readonly index: number;
  /** `RepoTags` as written (`redis:7.2-alpine`); empty when the image was saved by ID. */
  readonly repoTags: readonly string[];
  /** The Docker schema 2 manifest made by airlock: a docker-archive carries none. */
  readonly desc: Descriptor;
  readonly bytes: Buffer;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export interface OpenDockerArchiveOptions {
  readonly signal?: AbortSignal;
}

/**
 * A `docker save` tarball (https://github.com/moby/moby/blob/master/image/spec/v1.2.md, "Combined
 * Image JSON + Filesystem Changeset Format") or the same format written by `skopeo copy ...
 * docker-archive:`, as a read-only ContentSource. Such an archive holds configs and layers but no
 * registry manifest, so airlock makes one per image, as skopeo does when it pushes a
 * docker-archive: the digest it gets is airlock-made and exists nowhere upstream (callers record
 * that). Configs and layers are served from the archive by name, never extracted.
 */
export class DockerArchiveSource implements ContentSource {
  readonly tree: FileTree;
  readonly images: readonly DockerArchiveImage[];
  readonly #blobs: ReadonlyMap<Digest, { readonly name: string; readonly size: number }>;
  readonly #manifests: ReadonlyMap<Digest, Buffer>;

  private constructor(tree: FileTree, images: readonly DockerArchiveImage[], blobs: ReadonlyMap<Digest, { name: string; size: number }>) {
    this.tree = tree;
    this.images = images;
    this.#blobs = blobs;
    this.#manifests = new Map(images.map((i) => [i.desc.digest, i.bytes]));
  }

  /** Does `tree` look like a docker-archive (it has manifest.json at its root)? */
  static async holdsDockerArchive(tree: FileTree): Promise<boolean> {
    return (await tree.size(DOCKER_ARCHIVE_MANIFEST)) !== undefined;
  }

  static async open(tree: FileTree, opts: OpenDockerArchiveOptions = {}): Promise<DockerArchiveSource> {
    const where = `${tree.where}, ${DOCKER_ARCHIVE_MANIFEST}`;
    const invalid = (what: string): AirlockError =>
      new AirlockError('MANIFEST_INVALID', `${tree.where} is not a valid docker-archive: ${what}`, {
        where, hint: 'make it with `docker save` or `skopeo copy ... docker-archive:FILE`, or check that the copy is complete',
      });
    let doc: unknown;
    try {
      doc = JSON.parse((await tree.read(DOCKER_ARCHIVE_MANIFEST, MAX_MANIFEST_JSON_BYTES)).toString('utf8'));
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      throw invalid('manifest.json is not JSON');
    }
    if (!Array.isArray(doc) || doc.length === 0) throw invalid('manifest.json is not a non-empty list of images');

    const blobs = new Map<Digest, { name: string; size: number }>();
    const addBlob = (digest: Digest, name: string, size: number): void => {
      const had = blobs.get(digest);
      if (had && had.size !== size) throw invalid(`${had.name} and ${name} claim one digest ${digest} with different sizes`);
      if (!had) blobs.set(digest, { name, size });
    };
    const images: DockerArchiveImage[] = [];
    for (const [index, item] of doc.entries()) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const at = `manifest.json [${index}]`;
      if (typeof item !== 'object' || item === null) throw invalid(`${at} is not an object`);
      const { Config: configName, RepoTags: repoTags, Layers: layerNames, LayerSources: layerSources } = item as Record<string, unknown>;
      if (typeof configName !== 'string') throw invalid(`${at} has no Config`);
      if (repoTags !== null && repoTags !== undefined && !(Array.isArray(repoTags) && repoTags.every((t) => typeof t === 'string'))) {
        throw invalid(`${at}.RepoTags is not a list of names`);
      }
      if (!Array.isArray(layerNames) || !layerNames.every((l) => typeof l === 'string')) throw invalid(`${at}.Layers is not a list of file names`);
      if (layerSources !== undefined && layerSources !== null && Object.keys(layerSources as object).length > 0) {
        // Foreign layers (Windows base layers) are not in the archive: they cannot cross the air gap from it.
        throw new AirlockError('MANIFEST_INVALID', `${tree.where}: ${at} has foreign layers (LayerSources)`, {
          where, hint: 'foreign (non-distributable) layers are not supported; choose a Linux image',
        });
      }

      // The config: its digest is what its bytes hash to; a name that is a digest must agree.
      if ((await tree.size(configName)) === undefined) throw invalid(`${at} names config ${configName}, which is not in the archive`);
      const configBytes = await tree.read(configName, MAX_CONFIG_BYTES);
      const configDigest = digestOf(configBytes);
      checkNamedDigest(configName, configDigest, configBytes.length, tree.where);
      const config: Descriptor = { mediaType: MEDIA_TYPE_DOCKER_CONFIG, digest: configDigest, size: configBytes.length };
      const diffIds = diffIdsOf(configBytes);
      if (!diffIds) throw invalid(`config ${configName} has no rootfs.diff_ids list of digests`);
      if (diffIds.length !== layerNames.length) {
        throw invalid(`${at} lists ${layerNames.length} layer(s), its config ${diffIds.length} diff_id(s)`);
      }
      addBlob(configDigest, configName, configBytes.length);

      const layers: Descriptor[] = [];
      for (const [i, name] of (layerNames as string[]).entries()) {
        const size = await tree.size(name);
        if (size === undefined) throw invalid(`${at} names layer ${name}, which is not in the archive`);
        const layer = await describeLayer(tree, name, size, diffIds[i]!, opts.signal);
        addBlob(layer.digest, name, size);
        layers.push(layer);
      }
      const bytes = buildSchema2Manifest(config, layers);
      images.push({
        index, repoTags: (repoTags as string[] | null | undefined) ?? [],
        desc: { mediaType: MEDIA_TYPE_DOCKER_MANIFEST, digest: digestOf(bytes), size: bytes.length }, bytes, config, layers,
      });
    }
    return new DockerArchiveSource(tree, images, blobs);
  }

  /** By a `RepoTags` entry as written, or by the digest of a manifest airlock made. */
  async resolve(reference: string): Promise<Descriptor> {
    const hit = this.images.find((i) => i.repoTags.includes(reference) || i.desc.digest === reference);
    if (!hit) throw new AirlockError('NOT_FOUND', `${reference} is not in the archive`, { where: this.tree.where });
    return hit.desc;
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    const manifest = this.#manifests.get(desc.digest);
    if (manifest) return Readable.from([manifest]);
    const blob = this.#blobs.get(desc.digest);
    if (!blob) throw new AirlockError('NOT_FOUND', `blob ${desc.digest} is not in ${this.tree.where}`, { where: this.tree.where });
    return this.tree.open(blob.name, opts);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.#manifests.has(desc.digest) || this.#blobs.get(desc.digest)?.size === desc.size;
  }
}

/**
 * The manifest airlock makes for an image of a docker-archive: Docker schema 2
 * (https://distribution.github.io/distribution/spec/manifest-v2-2/), the format skopeo makes when
 * it pushes a docker-archive, because the config is a Docker image config.
 *
 * It must be deterministic: the same archive gives the same digest on every export and on every
 * machine, or a re-export would look like a new image (a `diff` that lies, a delta that carries it
 * again, a tag that moves for nothing). So the layers are kept as the archive holds them, not
 * compressed: gzip's output depends on the zlib build and level, so a digest of compressed layers
 * would only be stable on one machine, while an uncompressed layer's digest is its diff_id, a pure
 * function of the archive (and already in its config, which so verifies every layer byte as it
 * streams). No compression also means no CPU spent at export; the bundle's own zstd compresses
 * them in transit. The cost: the target registry stores the layers uncompressed (larger, pulled
 * uncompressed on the site network). A layer the archive holds gzip-compressed (rare) is kept
 * compressed, with the digest of its bytes. Keys are written in one fixed order, with no
 * timestamps and no whitespace.
 */
export function buildSchema2Manifest(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  const d = (x: Descriptor): { mediaType: string; size: number; digest: string } => ({ mediaType: x.mediaType, size: x.size, digest: x.digest });
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
    config: d(config),
    layers: layers.map(d),
  }));
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** A layer's descriptor: uncompressed (its diff_id), or gzip-compressed (the digest of its bytes). */
async function describeLayer(tree: FileTree, name: string, size: number, diffId: Digest, signal?: AbortSignal): Promise<Descriptor> {
  const head = await tree.head(name, 4);
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) {
    throw new AirlockError('MANIFEST_INVALID', `layer ${name} of ${tree.where} is zstd-compressed, which a Docker schema 2 manifest cannot name`, {
      where: `${tree.where}, ${name}`, hint: 'save the image uncompressed (docker save / skopeo copy ... docker-archive:), or as an oci-archive',
    });
  }
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) {
    // Not the diff_id (that is the digest of the uncompressed stream): hash the bytes once now,
    // unless the archive stores the file by its digest (then it is checked as it streams). Only
    // `blobs/sha256/<hex>` is such a name: skopeo's `<hex>.tar` names a layer by its diff_id.
    const named = /^blobs\/sha256\/[a-f0-9]{64}$/.test(name) ? digestInName(name) : undefined;
    const digest = named ?? (await hashEntry(tree, name, signal));
    return { mediaType: MEDIA_TYPE_DOCKER_LAYER, digest, size };
  }
  return { mediaType: MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED, digest: diffId, size };
}

async function hashEntry(tree: FileTree, name: string, signal?: AbortSignal): Promise<Digest> {
  const h = createDigester();
  for await (const chunk of await tree.open(name, signal ? { signal } : {})) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}` as Digest;
}

/** `blobs/sha256/<hex>` (docker save ≥ 25), `<hex>.json`, `<hex>.tar` (skopeo): the digest the name claims. */
function digestInName(name: string): Digest | undefined {
  const m = /(?:^|\/)(?:sha256\/)?([a-f0-9]{64})(?:\.json|\.tar)?$/.exec(name);
  return m ? (`sha256:${m[1]}` as Digest) : undefined;
}

/** A config named by a digest (`<hex>.json`, `blobs/sha256/<hex>`) whose bytes hash to another was altered. */
function checkNamedDigest(name: string, actual: Digest, size: number, where: string): void {
  const claimed = digestInName(name);
  if (claimed && claimed !== actual) {
    throw new DigestMismatchError(claimed, actual, size, {
      where: `${where}, ${name}`, hint: 'the archive was altered or damaged: get a fresh copy and compare its checksum',
    });
  }
}

function diffIdsOf(configBytes: Buffer): Digest[] | undefined {
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const ids = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => isDigest(d))) return undefined;
  return ids as Digest[];
}
