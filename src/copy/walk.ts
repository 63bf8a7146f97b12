import { AirlockError } from '../errors.js';
import { readVerified, type ContentSource } from '../content/index.js';
import {
  MAX_MANIFEST_BYTES, digestOf, formatPlatform, isIndexMediaType, isManifestMediaType, parseManifest, platformMatches,
  type Descriptor, type Digest, type Platform,
} from '../oci/index.js';
import type { NodeSource, PlanNode } from './types.js';

export interface WalkOptions {
  readonly signal?: AbortSignal;
  /** Keep only these platforms of an index (root level only). */
  readonly platforms?: readonly Platform[];
  /** Named in errors. */
  readonly where: string;
  /** Recorded on every node found: where its bytes are fetched from later. */
  readonly origin: NodeSource;
}

export interface WalkResult {
  /** The root as carried: the upstream root, or a new filtered index. */
  readonly root: Descriptor;
  readonly upstreamDigest?: Digest;
  readonly platforms?: readonly Platform[];
}

/** Fetch a manifest and verify it against its descriptor (bytes, size cap, digest). */
export async function fetchManifestBytes(src: ContentSource, desc: Descriptor, where: string, signal?: AbortSignal): Promise<Buffer> {
  return readVerified(await src.fetch(desc, signal ? { signal } : {}), desc, MAX_MANIFEST_BYTES, { where });
}

/**
 * Walk the graph under `root`: manifests are fetched (verified), blobs recorded but not fetched.
 * Nodes already in `nodes` are not fetched again. When `platforms` is set and the root is an
 * index whose children do not all match, a new index is made with only the matching ones: the
 * upstream digest is kept in the result so nothing changes silently.
 */
export async function walkGraph(
  src: ContentSource,
  root: Descriptor,
  nodes: Map<Digest, PlanNode>,
  opts: WalkOptions,
  rootBytes?: Buffer,
): Promise<WalkResult> {
  const bytes = rootBytes ?? nodes.get(root.digest)?.bytes ?? (await fetchManifestBytes(src, root, opts.where, opts.signal));
  if (isIndexMediaType(root.mediaType) && opts.platforms && opts.platforms.length > 0) {
    const index = parseManifest(bytes, root.mediaType, opts.where);
    if (index.kind === 'index') {
      const wanted = opts.platforms;
      const keep = index.manifests.filter((m) => wanted.some((p) => platformMatches(p, m.platform)));
      if (keep.length === 0) {
        const have = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ');
        throw new AirlockError('PLATFORM_UNAVAILABLE', `no manifest for ${wanted.map(formatPlatform).join(', ')} in ${opts.where}`, {
          where: opts.where,
          hint: `the index offers: ${have}; change platforms: or --platform`,
        });
      }
      if (keep.length < index.manifests.length) {
        // A new index with only the wanted platforms. The raw JSON objects are kept as they were,
        // so every field of the kept descriptors survives; only the list is shorter.
        const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> & { manifests: { digest: string }[] };
        const keepDigests = new Set<string>(keep.map((k) => k.digest));
        doc.manifests = doc.manifests.filter((m) => keepDigests.has(m.digest));
        const newBytes = Buffer.from(JSON.stringify(doc));
        const newDesc: Descriptor = { mediaType: root.mediaType, digest: digestOf(newBytes), size: newBytes.length };
        await addManifest(src, newDesc, newBytes, nodes, opts);
        return { root: newDesc, upstreamDigest: root.digest, platforms: keep.flatMap((k) => (k.platform ? [k.platform] : [])) };
      }
    }
  }
  await addManifest(src, root, bytes, nodes, opts);
  const m = parseManifest(bytes, root.mediaType, opts.where);
  const platforms = m.kind === 'index' ? m.manifests.flatMap((k) => (k.platform && k.platform.os !== 'unknown' ? [k.platform] : [])) : undefined;
  return { root, ...(platforms && platforms.length > 0 ? { platforms } : {}) };
}

async function addManifest(src: ContentSource, desc: Descriptor, bytes: Buffer, nodes: Map<Digest, PlanNode>, opts: WalkOptions): Promise<void> {
  if (nodes.get(desc.digest)?.bytes) return;
  const m = parseManifest(bytes, desc.mediaType, `${opts.where} (${desc.digest})`);
  if (m.kind === 'index') {
    nodes.set(desc.digest, { desc, kind: 'index', bytes, children: m.manifests.map((c) => c.digest), origin: opts.origin });
    const work: Promise<void>[] = [];
    for (const child of m.manifests) {
      if (!isManifestMediaType(child.mediaType)) {
        // An index may list non-manifest blobs (rare); carry them as blobs.
        if (!nodes.has(child.digest)) nodes.set(child.digest, { desc: child, kind: 'layer', children: [], origin: opts.origin });
        continue;
      }
      if (nodes.get(child.digest)?.bytes) continue;
      work.push(
        fetchManifestBytes(src, child, `${opts.where} → ${child.digest}`, opts.signal).then((b) =>
          addManifest(src, child, b, nodes, opts),
        ),
      );
    }
    await Promise.all(work);
    return;
  }
  nodes.set(desc.digest, { desc, kind: 'manifest', bytes, children: [m.config.digest, ...m.layers.map((l) => l.digest)], origin: opts.origin });
  if (!nodes.has(m.config.digest)) nodes.set(m.config.digest, { desc: m.config, kind: 'config', children: [], origin: opts.origin });
  for (const l of m.layers) {
    if (l.urls && l.urls.length > 0) {
      // Foreign layers (Windows base layers) live outside the registry and cannot be mirrored by digest here.
      throw new AirlockError('MANIFEST_INVALID', `${opts.where} has a foreign layer ${l.digest} served from ${l.urls[0]}`, {
        where: opts.where,
        hint: 'foreign (non-distributable) layers are not supported; choose a Linux platform',
      });
    }
    if (!nodes.has(l.digest)) nodes.set(l.digest, { desc: l, kind: 'layer', children: [], origin: opts.origin });
  }
}

/** Every digest reachable from `root` (including it), children before parents. */
export function closure(nodes: ReadonlyMap<Digest, PlanNode>, root: Digest): Digest[] {
  const out: Digest[] = [];
  const seen = new Set<Digest>();
  const visit = (d: Digest): void => {
    if (seen.has(d)) return;
    seen.add(d);
    const n = nodes.get(d);
    if (n) for (const c of n.children) visit(c);
    out.push(d);
  };
  visit(root);
  return out;
}
