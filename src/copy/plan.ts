import { AirlockError } from '../errors.js';
import type { ContentSource, CallOptions } from '../content/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import type { Readable } from 'node:stream';
import type { CopyPlan, NodeKind, NodeSource, PlanNode, PlannedRoot, PlanTarget } from './types.js';

export interface PlanCopyInput {
  /** Every root, as walked (export) or as listed in airlock.json (import). */
  readonly roots: readonly PlannedRoot[];
  /** Every node of their graphs. */
  readonly nodes: ReadonlyMap<Digest, PlanNode>;
  /** The key of a root's target repository; undefined: carried, not copied (a file import does not push). */
  readonly targetOf: (root: PlannedRoot) => string | undefined;
}

/**
 * The plan half of the copy engine: roots, their graphs, and where each root goes. Export plans a
 * bundle (registry, archive and layout sources → the bundle, named as the bundle names them),
 * import plans a bundle's front into the target registry (each root → its mapped repository).
 * `executeCopy()` applies a plan; `describePlan()` prints it (`--dry-run`).
 */
export function planCopy(input: PlanCopyInput): CopyPlan {
  const targets: PlanTarget[] = [];
  for (const root of input.roots) {
    const repository = input.targetOf(root);
    if (repository !== undefined) targets.push({ root, repository });
  }
  return { roots: input.roots, nodes: input.nodes, targets };
}

/** The source as people name it: `registry/repository`, `archive:NAME`, `bundle`, `base sha256:…`; `cache` when none is recorded (export's files and classic charts, downloaded while resolving). */
export function formatSource(source: NodeSource | undefined): string {
  if (!source) return 'cache';
  switch (source.kind) {
    case 'registry':
      return `${source.registry}/${source.repository}`;
    case 'local':
      return source.name;
    case 'bundle':
      return 'bundle';
    case 'base':
      return `base ${source.bases.join(', ')}`;
  }
}

/** Contract order of a bundle's blobs: manifests and indexes, configs, then layers largest first; ties by digest. */
export function blobOrder(nodes: ReadonlyMap<Digest, PlanNode>): Digest[] {
  const rank = (n: PlanNode): number => (n.kind === 'index' || n.kind === 'manifest' ? 0 : n.kind === 'config' ? 1 : 2);
  return [...nodes.values()]
    .sort((a, b) => rank(a) - rank(b) || (rank(a) === 2 ? b.desc.size - a.desc.size : 0) || a.desc.digest.localeCompare(b.desc.digest))
    .map((n) => n.desc.digest);
}

/** A plan as `--dry-run --json` prints it: JSON-safe (no bytes), in a stable order. */
export interface PlanDescription {
  readonly roots: readonly {
    readonly kind: PlannedRoot['kind'];
    /** The reference it was taken from, as airlock.json records it (`registry/repo:tag@digest`). */
    readonly source: string;
    /** The target repository key; absent when the root is carried but not copied. */
    readonly target?: string;
    readonly digest: Digest;
    readonly tag?: string;
  }[];
  readonly blobs: readonly {
    readonly digest: Digest;
    readonly size: number;
    readonly kind: NodeKind;
    /** formatSource() of where its bytes come from. */
    readonly from: string;
  }[];
  readonly totals: {
    readonly roots: number;
    readonly blobs: number;
    readonly bytes: number;
    /** Blobs and bytes by `from`. */
    readonly byOrigin: Readonly<Record<string, { readonly blobs: number; readonly bytes: number }>>;
  };
}

/** The name of a root's source: its `source` when the plan was made from airlock.json, else as airlock.json will record it. */
export function rootSource(r: PlannedRoot): string {
  return r.source ?? `${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}@${r.upstreamDigest ?? r.desc.digest}`;
}

export function describePlan(plan: CopyPlan): PlanDescription {
  const targetOf = new Map(plan.targets.map((t) => [t.root, t.repository]));
  const roots = plan.roots.map((r) => {
    const target = targetOf.get(r);
    return {
      kind: r.kind, source: rootSource(r), ...(target !== undefined ? { target } : {}), digest: r.desc.digest, ...(r.tag !== undefined ? { tag: r.tag } : {}),
    };
  });
  const blobs = blobOrder(plan.nodes).map((d) => {
    const n = plan.nodes.get(d)!;
    return { digest: d, size: n.desc.size, kind: n.kind, from: formatSource(n.origin) };
  });
  const byOrigin: Record<string, { blobs: number; bytes: number }> = {};
  for (const b of blobs) {
    const t = (byOrigin[b.from] ??= { blobs: 0, bytes: 0 });
    t.blobs++;
    t.bytes += b.size;
  }
  return { roots, blobs, totals: { roots: roots.length, blobs: blobs.length, bytes: blobs.reduce((s, b) => s + b.size, 0), byOrigin } };
}

/** Where PlanSource finds the sources a plan's nodes name. */
export interface SourceOpeners {
  /** A repository of a registry (export: one client per registry from its pool, repositories reused). */
  readonly registry: (registry: string, repository: string) => ContentSource;
  /** An archive or layout the run opened, by its NodeSource id. */
  readonly local: (id: string) => ContentSource | undefined;
}

/**
 * A plan's nodes as one ContentSource: each blob is fetched from the source its node records
 * (NodeSource), parsed once when the plan was made. Export's cache fill and its bundle writer
 * read upstream through it. Bytes are raw, as from any ContentSource: callers verify them.
 */
export class PlanSource implements ContentSource {
  readonly #nodes: ReadonlyMap<Digest, PlanNode>;
  readonly #open: SourceOpeners;

  constructor(nodes: ReadonlyMap<Digest, PlanNode>, open: SourceOpeners) {
    this.#nodes = nodes;
    this.#open = open;
  }

  /** Is `digest` read from this host (an archive or a layout), not downloaded? */
  isLocal(digest: Digest): boolean {
    return this.#nodes.get(digest)?.origin?.kind === 'local';
  }

  /** Only the plan's own digests resolve: a plan has no tags. */
  async resolve(reference: string): Promise<Descriptor> {
    const n = this.#nodes.get(reference as Digest);
    if (!n) throw new AirlockError('NOT_FOUND', `${reference} is not in the plan`);
    return n.desc;
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    return this.#sourceOf(desc.digest).fetch(desc, opts);
  }

  async exists(desc: Descriptor, opts: CallOptions = {}): Promise<boolean> {
    return this.#sourceOf(desc.digest).exists(desc, opts);
  }

  #sourceOf(digest: Digest): ContentSource {
    const origin = this.#nodes.get(digest)?.origin;
    if (origin?.kind === 'registry') return this.#open.registry(origin.registry, origin.repository);
    if (origin?.kind === 'local') {
      const s = this.#open.local(origin.id);
      if (s) return s;
    }
    throw new AirlockError('INTERNAL', `${digest} has no source to fetch it from (${formatSource(origin)})`);
  }
}
