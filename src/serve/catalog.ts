import type { Readable } from 'node:stream';
import { MEDIA_TYPE_OCI_INDEX, digestOf, type Descriptor, type Digest } from '../oci/index.js';

/** One repository as `bundle serve` presents it: what a pull can ask for, and nothing else. */
export interface ServedRepository {
  readonly name: string;
  /** Tag → the descriptor of the manifest it names. */
  readonly tags: ReadonlyMap<string, Descriptor>;
  /** Every manifest reachable from this repository's tags and referrers, with its exact bytes. */
  readonly manifests: ReadonlyMap<Digest, { readonly desc: Descriptor; readonly bytes: Buffer }>;
  /** Every config and layer reachable here (present in the bundle files or not: `content.has` decides). */
  readonly blobs: ReadonlyMap<Digest, Descriptor>;
  /** Subject digest → the descriptors of the manifests that name it as `subject`. */
  readonly referrers: ReadonlyMap<Digest, readonly Descriptor[]>;
}

export interface ServeCatalog {
  readonly repositories: ReadonlyMap<string, ServedRepository>;
}

/** Where the bytes of configs and layers come from (a bundle directory or uncompressed tar, read in place). */
export interface ServeContent {
  has(desc: Descriptor): Promise<boolean>;
  /** The whole blob, unverified (the server verifies it while it streams). */
  fetch(desc: Descriptor, signal?: AbortSignal): Promise<Readable>;
  /** Bytes start..end inclusive, unverified. */
  fetchRange(desc: Descriptor, start: number, end: number, signal?: AbortSignal): Promise<Readable>;
}

/**
 * The image index the referrers API answers with, and the referrers tag schema's fallback index
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers).
 * Serialised once, so its digest is stable for the life of the server.
 */
export function referrersIndex(descs: readonly Descriptor[]): { desc: Descriptor; bytes: Buffer } {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: descs }));
  return { desc: { mediaType: MEDIA_TYPE_OCI_INDEX, digest: digestOf(bytes), size: bytes.length }, bytes };
}

/** The tag that lists a subject's referrers for clients without the referrers API: `sha256-<hex>`. */
export function referrersFallbackTag(subject: Digest): string {
  return subject.replace(':', '-');
}
