import { AirlockError } from '../errors.js';
import { isImageManifestMediaType, isIndexMediaType, parseManifest, type Digest } from '../oci/index.js';
import type { AirlockManifest, BundleBlob } from './types.js';

/** Manifests, indexes and configs held in memory by a reader, at most this many bytes in all. */
export const MAX_METADATA_BYTES = 256 * 1024 * 1024;

/**
 * Which blobs of a bundle are metadata (manifests, indexes, and the configs of image manifests)
 * and so come first, before any layer: the rule writer and reader share. Manifests are known
 * from airlock.json's media types; configs from the manifests themselves as they pass.
 */
export class MetadataTracker {
  readonly blobs: ReadonlyMap<Digest, BundleBlob>;
  readonly #pending = new Set<Digest>();
  readonly #manifests = new Set<Digest>();
  readonly #metadata = new Set<Digest>();
  readonly #where: string;

  constructor(manifest: AirlockManifest, where: string) {
    this.#where = where;
    const blobs = new Map<Digest, BundleBlob>();
    for (const b of manifest.blobs) {
      if (b.location !== 'bundle') continue;
      blobs.set(b.digest, b);
      if (isIndexMediaType(b.mediaType) || isImageManifestMediaType(b.mediaType)) {
        this.#pending.add(b.digest);
        this.#manifests.add(b.digest);
        this.#metadata.add(b.digest);
      }
    }
    this.blobs = blobs;
  }

  /** True once every manifest and every config they name has passed. */
  get complete(): boolean {
    return this.#pending.size === 0;
  }

  isMetadata(digest: Digest): boolean {
    return this.#metadata.has(digest);
  }

  /** Metadata digests known so far. */
  get metadata(): ReadonlySet<Digest> {
    return this.#metadata;
  }

  /** True when `digest` is the next metadata blob; false when the front is complete (a layer). Throws when a layer comes too early. */
  expects(digest: Digest): boolean {
    if (this.#pending.has(digest)) return true;
    if (this.complete) return false;
    throw new AirlockError('BUNDLE_UNREADABLE', `blob ${digest} comes before every manifest and config has been read`, {
      where: this.#where,
      hint: 'a bundle carries manifests, then configs, then layers; this one was reordered or damaged',
    });
  }

  /** Record a metadata blob's bytes (already verified): a manifest adds its config to what must come next. */
  add(digest: Digest, raw: Buffer): void {
    this.#pending.delete(digest);
    if (!this.#manifests.has(digest)) return;
    const blob = this.blobs.get(digest);
    const m = parseManifest(raw, blob?.mediaType, `${this.#where}, blob ${digest}`);
    if (m.kind !== 'manifest') return;
    const config = this.blobs.get(m.config.digest);
    if (!config || this.#metadata.has(config.digest)) return;
    this.#metadata.add(config.digest);
    this.#pending.add(config.digest);
  }
}
