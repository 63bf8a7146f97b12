import { digestFromHex, hexOf, isDigest, type Digest } from '../oci/index.js';
import { AIRLOCK_JSON, AIRLOCK_SIGNATURE } from './types.js';

/** OCI image layout files: https://github.com/opencontainers/image-spec/blob/main/image-layout.md */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_JSON = 'index.json';
export const CHECKSUMS_FILE = 'checksums.txt';

export function blobEntryName(digest: Digest): string {
  return `blobs/sha256/${hexOf(digest)}`;
}

/**
 * Pieces of a blob cut across volumes live outside `blobs/` so that each volume's `blobs/`
 * stays a valid (partial) OCI layout: `pieces/sha256/<blob hex>/<byte offset in decimal>`.
 * At most 14 + 64 + 1 + 16 characters, within ustar's 100-byte name field.
 */
export function pieceEntryName(digest: Digest, offset: number): string {
  return `pieces/sha256/${hexOf(digest)}/${offset}`;
}

export type EntryName =
  | { readonly kind: 'airlock' }
  | { readonly kind: 'signature' }
  | { readonly kind: 'oci-layout' }
  | { readonly kind: 'index' }
  | { readonly kind: 'blob'; readonly digest: Digest }
  | { readonly kind: 'piece'; readonly digest: Digest; readonly offset: number };

const BLOB_RE = /^blobs\/sha256\/([a-f0-9]{64})$/;
const PIECE_RE = /^pieces\/sha256\/([a-f0-9]{64})\/(0|[1-9][0-9]{0,15})$/;

export function parseEntryName(path: string): EntryName | undefined {
  switch (path) {
    case AIRLOCK_JSON: return { kind: 'airlock' };
    case AIRLOCK_SIGNATURE: return { kind: 'signature' };
    case OCI_LAYOUT_FILE: return { kind: 'oci-layout' };
    case INDEX_JSON: return { kind: 'index' };
  }
  let m = BLOB_RE.exec(path);
  if (m?.[1]) return { kind: 'blob', digest: digestFromHex(m[1]) };
  m = PIECE_RE.exec(path);
  if (m?.[1] && m[2]) {
    const offset = Number(m[2]);
    const digest = `sha256:${m[1]}`;
    if (Number.isSafeInteger(offset) && isDigest(digest)) return { kind: 'piece', digest, offset };
  }
  return undefined;
}

/** The bundle as errors name it: the path given, or the first of several volumes (they share airlock.json). */
export function bundleLabel(paths: readonly string[]): string {
  if (paths.length <= 1) return paths[0] ?? '(no bundle)';
  return `${paths[0]} (first of ${paths.length} volumes given)`;
}
