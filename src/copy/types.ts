import type { Readable } from 'node:stream';
import type { ContentSink } from '../content/index.js';
import type { Descriptor, Digest, Platform } from '../oci/index.js';

export type NodeKind = 'index' | 'manifest' | 'config' | 'layer';

/** One piece of content in the graph: a manifest (bytes held) or a blob (config or layer). */
export interface PlanNode {
  readonly desc: Descriptor;
  readonly kind: NodeKind;
  /** Raw manifest bytes, exactly as fetched and verified (never re-serialised). */
  readonly bytes?: Buffer;
  /** Digests that must exist before this node (config + layers, or child manifests). */
  readonly children: readonly Digest[];
  /** Where its bytes come from (NodeSource); absent for content already in the sink's store (export's carried files and charts). */
  readonly origin?: NodeSource;
}

/**
 * Where a node's bytes come from, parsed once when the plan is made and never re-derived:
 * - `registry`: a repository of a registry (export's sources), fetched through the registry client;
 * - `local`: an archive or OCI layout this run opened (`id` is the opener's handle, `name` how
 *   people call it, e.g. `archive:app.tar`);
 * - `bundle`: the bundle being imported or verified;
 * - `base`: left out of a delta bundle because these base bundles (or receipts) hold it: the target
 *   must hold it already.
 */
export type NodeSource =
  | { readonly kind: 'registry'; readonly registry: string; readonly repository: string }
  | { readonly kind: 'local'; readonly id: string; readonly name: string }
  | { readonly kind: 'bundle' }
  | { readonly kind: 'base'; readonly bases: readonly string[] };

export type RootKind = 'image' | 'chart' | 'file' | 'referrer';

/** A root of the graph: what the user asked for (or a referrer found for it), pinned. */
export interface PlannedRoot {
  readonly kind: RootKind;
  /** `registry/repository` of the source. */
  readonly repository: string;
  readonly registry: string;
  readonly repositoryPath: string;
  readonly tag?: string;
  /** Root descriptor as carried (after any platform filter). */
  readonly desc: Descriptor;
  /** The upstream digest when a platform filter produced a new index. */
  readonly upstreamDigest?: Digest;
  readonly platforms?: readonly Platform[];
  /** Referrers: the subject's digest, and the tag for cosign-style tag referrers. */
  readonly subject?: Digest;
  readonly referrerTag?: string;
  readonly artifactType?: string;
  /** Files: the name to deliver. */
  readonly fileName?: string;
  /** The reference airlock.json records it was taken from (BundleArtifact.source): read from the bundle (import), or as export will write it. */
  readonly source?: string;
}

/** Where a root lands: the key of its target repository (`host/repo`, a bundle's name for it, `cache`). */
export interface PlanTarget {
  readonly root: PlannedRoot;
  readonly repository: string;
}

/**
 * The plan half of the copy engine (copy/plan.ts `planCopy`): every root, every node of their
 * graphs (manifests with their bytes, blobs by descriptor), and where each root goes. Export,
 * import and the cache fill all build one; `describePlan` prints it (`--dry-run`).
 */
export interface CopyPlan {
  readonly roots: readonly PlannedRoot[];
  readonly nodes: ReadonlyMap<Digest, PlanNode>;
  /** The roots to copy, each with its target; a root without one (a file not pushed) is carried but not copied. */
  readonly targets: readonly PlanTarget[];
}

export type CopyEvent =
  | { readonly type: 'resolve'; readonly ref: string; readonly digest: Digest }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'blob-start'; readonly digest: Digest; readonly size: number }
  | { readonly type: 'bytes'; readonly bytes: number }
  | { readonly type: 'blob-done'; readonly digest: Digest; readonly size: number; readonly how: 'copied' | 'cached' | 'exists' | 'mounted' | 'skipped'; readonly repository?: string }
  | { readonly type: 'manifest-done'; readonly digest: Digest; readonly repository?: string; readonly how: 'pushed' | 'exists' }
  | { readonly type: 'tag-done'; readonly repository: string; readonly tag: string; readonly digest: Digest }
  | { readonly type: 'root-done'; readonly root: PlannedRoot; readonly target?: string }
  | { readonly type: 'root-waiting'; readonly root: PlannedRoot; readonly missing: number };

/** What the executor pushes into, per root: a plan's target (`repository` is the sink's key, for dedup and mounting) bound to its sink. */
export interface RootTarget extends PlanTarget {
  readonly sink: ContentSink;
}

/**
 * What a run is about to write, known once the sinks have been asked what they hold and before the
 * first write (ExecuteOptions.beforeWrite): a caller can check the target would take it all.
 */
export interface PendingWrites {
  /** Target repositories that will receive a blob, a manifest or a tag, in target order. */
  readonly repositories: readonly string[];
  /** Manifests and indexes to push, each with the roots whose graphs hold it. */
  readonly manifests: readonly { readonly repository: string; readonly desc: Descriptor; readonly roots: readonly PlannedRoot[] }[];
}

/** A record of work done, so an interrupted run resumes without re-checking it. */
export interface Journal {
  has(key: string): boolean;
  record(key: string, fields?: Record<string, unknown>): Promise<void>;
}

export interface SequentialBlob {
  readonly desc: Descriptor;
  readonly body: Readable;
}
