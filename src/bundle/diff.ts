import type { Digest } from '../oci/index.js';
import { splitReference } from '../reference/index.js';
import { heldDigests, travels, type BaseDocument } from './bases.js';
import type { ArtifactKind, BundleArtifact } from './types.js';

/** One side of a diff, as named on the command line. */
export interface DiffSide {
  readonly path: string;
  readonly kind: 'bundle' | 'receipt';
  /** The bundle id (sha256 of airlock.json), or the receipt's digest. */
  readonly id: Digest;
  readonly created?: string;
  /** Ids of the bundle's own bases ([] for a full bundle). */
  readonly bases: readonly Digest[];
  readonly artifacts: number;
  readonly blobs: number;
}

export interface DiffArtifact {
  readonly kind: ArtifactKind | string;
  /** `registry/repository[:tag]`, or `registry/repository@digest` when untagged. */
  readonly name: string;
  readonly digest: Digest;
  /** Where the bundle got it when not from a registry by that name: `docker-archive x.tar.gz (manifest made by airlock)`, `release-manifest.json`. */
  readonly origin?: string;
}

export interface ChangedArtifact {
  readonly kind: ArtifactKind | string;
  readonly name: string;
  /** The tag moved from this digest… */
  readonly from: Digest;
  /** …to this one. */
  readonly to: Digest;
  readonly origin?: string;
}

export interface DiffBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType?: string;
}

export interface DiffResult {
  readonly version: 1;
  readonly old: DiffSide;
  readonly new: DiffSide;
  readonly artifacts: {
    readonly added: readonly DiffArtifact[];
    readonly removed: readonly DiffArtifact[];
    readonly changed: readonly ChangedArtifact[];
    readonly unchanged: number;
  };
  readonly blobs: {
    /** In NEW's set, not in OLD's. */
    readonly added: readonly DiffBlob[];
    readonly bytesAdded: number;
    /** In OLD's set, not in NEW's (digest only when OLD is a receipt, which lists no sizes). */
    readonly removed: readonly DiffBlob[];
    readonly bytesRemoved: number;
    readonly common: number;
    readonly bytesCommon: number;
  };
  /** What `bundle export --since OLD` of NEW's set would carry: manifests always, other blobs only when OLD lacks them. */
  readonly delta: {
    readonly blobs: number;
    readonly bytes: number;
    /** Bytes of NEW's set that such a delta leaves to OLD. */
    readonly bytesLeftOut: number;
  };
}

/** The comparison itself, on documents already read: pure. */
export function planDiff(oldDoc: BaseDocument, newDoc: BaseDocument & { kind: 'bundle' }): DiffResult {
  const oldArtifacts = artifactsOf(oldDoc);
  const newArtifacts = artifactsOf(newDoc);
  const added: DiffArtifact[] = [];
  const changed: ChangedArtifact[] = [];
  let unchanged = 0;
  for (const [key, a] of newArtifacts) {
    const before = oldArtifacts.get(key);
    if (!before) added.push(a);
    else if (before.digest !== a.digest) changed.push({ kind: a.kind, name: a.name, from: before.digest, to: a.digest, ...(a.origin ? { origin: a.origin } : {}) });
    else unchanged++;
  }
  const removed = [...oldArtifacts].filter(([k]) => !newArtifacts.has(k)).map(([, a]) => a);

  const oldHeld = new Set(heldDigests(oldDoc));
  const oldBlobs = new Map(oldDoc.kind === 'bundle' ? oldDoc.manifest.blobs.map((b) => [b.digest, b]) : []);
  const newBlobs = newDoc.manifest.blobs;
  const newSet = new Set(newBlobs.map((b) => b.digest));
  const blobsAdded: DiffBlob[] = [];
  let common = 0;
  let bytesCommon = 0;
  let deltaBlobs = 0;
  let deltaBytes = 0;
  for (const b of newBlobs) {
    const held = oldHeld.has(b.digest);
    if (held) {
      common++;
      bytesCommon += b.size;
    } else blobsAdded.push({ digest: b.digest, size: b.size, mediaType: b.mediaType });
    if (travels(b.mediaType, held)) {
      deltaBlobs++;
      deltaBytes += b.size;
    }
  }
  const blobsRemoved: DiffBlob[] = [...oldHeld].filter((d) => !newSet.has(d)).map((d) => {
    const b = oldBlobs.get(d);
    return { digest: d, size: b?.size ?? 0, ...(b ? { mediaType: b.mediaType } : {}) };
  });
  const total = newBlobs.reduce((s, b) => s + b.size, 0);
  const byName = (a: { name: string; kind: string }, b: { name: string; kind: string }): number => a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind);
  return {
    version: 1,
    old: sideOf(oldDoc),
    new: sideOf(newDoc),
    artifacts: { added: added.sort(byName), removed: removed.sort(byName), changed: changed.sort(byName), unchanged },
    blobs: {
      added: blobsAdded,
      bytesAdded: blobsAdded.reduce((s, b) => s + b.size, 0),
      removed: blobsRemoved,
      bytesRemoved: blobsRemoved.reduce((s, b) => s + b.size, 0),
      common,
      bytesCommon,
    },
    delta: { blobs: deltaBlobs, bytes: deltaBytes, bytesLeftOut: total - deltaBytes },
  };
}

/** Where an artifact came from, for the diff's reader, when it was not pulled from a registry by its name. */
function originOf(a: BundleArtifact): string | undefined {
  if (a.archive) return `${a.archive.format} ${a.archive.name}${a.archive.manifest === 'airlock' ? ', manifest made by airlock' : ''}`;
  if (a.fromFile) return `${a.fromFile.name} ${a.fromFile.selector}`;
  return undefined;
}

function sideOf(doc: BaseDocument): DiffSide {
  if (doc.kind === 'receipt') {
    return { path: doc.path, kind: 'receipt', id: doc.id, created: doc.receipt.finished, bases: doc.receipt.bases, artifacts: doc.receipt.artifacts.length, blobs: doc.receipt.digests.length };
  }
  const m = doc.manifest;
  return { path: doc.path, kind: 'bundle', id: doc.id, created: m.created, bases: m.bases.map((b) => b.id), artifacts: m.artifacts.length, blobs: m.blobs.length };
}

/**
 * Artifacts by identity: a tagged artifact is `kind repository:tag` (so a moved tag is a change),
 * an untagged one (a digest-pinned image, an OCI referrer) is its digest (added or removed, never changed).
 */
function artifactsOf(doc: BaseDocument): Map<string, DiffArtifact> {
  const out = new Map<string, DiffArtifact>();
  const add = (kind: string, repository: string, tag: string | undefined, digest: Digest, origin?: string): void => {
    const name = tag !== undefined ? `${repository}:${tag}` : `${repository}@${digest}`;
    out.set(`${kind} ${name}`, { kind, name, digest, ...(origin ? { origin } : {}) });
  };
  if (doc.kind === 'bundle') {
    for (const a of doc.manifest.artifacts) add(a.kind, a.repository, a.tag, a.digest, originOf(a));
  } else {
    // A receipt names each artifact by its airlock.json source: `registry/repository[:tag]@digest`.
    for (const a of doc.receipt.artifacts) {
      const { name, tag } = splitReference(a.source);
      // A tag the mirror list gave a digest-only reference is not in the source: receipts record it apart.
      add(a.kind, name, tag ?? a.tag, a.digest);
    }
  }
  return out;
}
