import { AirlockError } from '../errors.js';
import { closure, planCopy, type CopyPlan, type NodeSource, type PlanNode, type PlannedRoot } from '../copy/index.js';
import { isManifestMediaType, parseManifest, parsePlatform, type Digest } from '../oci/index.js';
import { mapRepository, parseReference, type RepositoryLayout, type TargetRegistry } from '../reference/index.js';
import type { AirlockManifest } from '../bundle/index.js';

/** The copy plan of a bundle, made from its front (airlock.json and the manifests) alone. */
export interface BundlePlan {
  /** The bundle's roots and nodes with no targets yet: import adds them (planCopy) once it has mapped each root. */
  readonly copyPlan: CopyPlan;
  /** Each root with its source as airlock.json records it (`source`), and the registry and repository parsed from it, once. */
  readonly roots: readonly PlannedRoot[];
  /** Every blob airlock.json lists; its origin says whether the bundle carries it or a base does. */
  readonly nodes: ReadonlyMap<Digest, PlanNode>;
  /** "layer sha256:… of docker.io/library/nginx:1.27" for error messages. */
  describe(digest: Digest): string;
  sourceOf(root: PlannedRoot): string;
  closureOf(root: PlannedRoot): Digest[];
  /** Every digest under these roots. */
  digestsHeldBy(roots: readonly PlannedRoot[]): Digest[];
}

export function buildBundlePlan(manifest: AirlockManifest, metadata: ReadonlyMap<Digest, Buffer>, bundleId: string): BundlePlan {
  const nodes = new Map<Digest, PlanNode>();
  const blobs = new Map(manifest.blobs.map((b) => [b.digest, b]));
  const configs = new Set<Digest>();
  const where = `bundle ${bundleId}`;
  const inBundle: NodeSource = { kind: 'bundle' };
  const originOf = (b: (typeof manifest.blobs)[number]): NodeSource => (b.location === 'base' ? { kind: 'base', bases: b.bases ?? [] } : inBundle);
  for (const b of manifest.blobs) {
    if (!isManifestMediaType(b.mediaType)) continue;
    const bytes = metadata.get(b.digest);
    if (!bytes) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `manifest ${b.digest} is listed in airlock.json but not in the bundle`, {
        where, hint: 'the bundle is truncated or was altered: copy it again and run `airlock bundle verify`',
      });
    }
    const m = parseManifest(bytes, b.mediaType, `${where} manifest ${b.digest}`);
    const children = m.kind === 'index' ? m.manifests.map((c) => c.digest) : [m.config.digest, ...m.layers.map((l) => l.digest)];
    if (m.kind === 'manifest') configs.add(m.config.digest);
    for (const c of children) {
      if (!blobs.has(c)) {
        throw new AirlockError('BUNDLE_INCOMPLETE', `${c}, needed by manifest ${b.digest}, is not listed in airlock.json`, {
          where, hint: 'the bundle was made by a broken exporter or altered; export it again',
        });
      }
    }
    nodes.set(b.digest, { desc: { mediaType: b.mediaType, digest: b.digest, size: b.size }, kind: m.kind === 'index' ? 'index' : 'manifest', bytes, children, origin: originOf(b) });
  }
  for (const b of manifest.blobs) {
    if (nodes.has(b.digest)) continue;
    nodes.set(b.digest, { desc: { mediaType: b.mediaType, digest: b.digest, size: b.size }, kind: configs.has(b.digest) ? 'config' : 'layer', children: [], origin: originOf(b) });
  }
  const roots: PlannedRoot[] = manifest.artifacts.map((a) => {
    const node = nodes.get(a.digest);
    if (a.kind !== 'file' && !node?.bytes) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `artifact ${a.source} has no manifest ${a.digest} in the bundle`, { where });
    }
    const ref = a.kind === 'file' ? undefined : parseReference(a.repository, { where: `${where} artifact ${a.source}` });
    const root: PlannedRoot = {
      kind: a.kind,
      repository: a.repository,
      registry: ref?.registry ?? '',
      repositoryPath: ref?.repository ?? '',
      ...(a.tag !== undefined ? { tag: a.tag } : {}),
      desc: { mediaType: a.mediaType, digest: a.digest, size: a.size, ...(a.artifactType ? { artifactType: a.artifactType } : {}) },
      ...(a.upstreamDigest ? { upstreamDigest: a.upstreamDigest as Digest } : {}),
      ...(a.platforms ? { platforms: a.platforms.map((p) => parsePlatform(p)) } : {}),
      ...(a.subject ? { subject: a.subject } : {}),
      ...(a.referrerTag ? { referrerTag: a.referrerTag } : {}),
      ...(a.artifactType ? { artifactType: a.artifactType } : {}),
      ...(a.fileName ? { fileName: a.fileName } : {}),
      source: a.source,
    };
    return root;
  });
  const owner = new Map<Digest, string>();
  for (const r of roots) {
    for (const d of closure(nodes, r.desc.digest)) if (!owner.has(d)) owner.set(d, r.source!);
  }
  return {
    copyPlan: planCopy({ roots, nodes, targetOf: () => undefined }),
    roots,
    nodes,
    describe: (d) => `${nodes.get(d)?.kind ?? 'blob'} ${d}${owner.has(d) ? ` of ${owner.get(d)}` : ''}`,
    sourceOf: (r) => r.source ?? r.repository,
    closureOf: (r) => closure(nodes, r.desc.digest),
    digestsHeldBy: (rs) => [...new Set(rs.flatMap((r) => closure(nodes, r.desc.digest)))].sort(),
  };
}

/**
 * Source repository (`registry/repo`) → target repository path; refuse two sources on one target.
 * The roots' registry and repository were parsed once, when the plan was read (buildBundlePlan).
 * Import and serve both name repositories by it.
 */
export function mapArtifacts(roots: readonly PlannedRoot[], target: TargetRegistry, layout: RepositoryLayout): Map<string, string> {
  const out = new Map<string, string>();
  const owner = new Map<string, string>();
  for (const a of roots) {
    if (a.kind === 'file' || out.has(a.repository)) continue;
    const path = mapRepository({ registry: a.registry, repository: a.repositoryPath }, target, layout);
    const other = owner.get(path);
    if (other && other !== a.repository) {
      throw new AirlockError('MAPPING_CONFLICT', `${other} and ${a.repository} would both land on ${target.host}/${path}`, {
        hint: layout === 'flat' ? 'use --layout scoped to keep the source registry in the path' : 'import them into different --to prefixes',
      });
    }
    owner.set(path, a.repository);
    out.set(a.repository, path);
  }
  return out;
}
