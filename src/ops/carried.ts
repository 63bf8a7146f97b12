import type { Logger } from '../log.js';
import type { BundleArtifact } from '../bundle/index.js';
import { findChartImages, readOciChart, resolveClassicChart, type ChartFiles, type ChartImage } from '../charts/index.js';
import type { PlanNode, PlannedRoot } from '../copy/index.js';
import { resolveFileEntry, type CarriedArtifact, type HostSettings } from '../files/index.js';
import type { LayoutStore } from '../layout/index.js';
import type { ChartEntry, MirrorList } from '../mirror/index.js';
import type { Digest } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryRepository } from '../registry/index.js';
import type { ReleaseFileDetails } from '../files/index.js';

/**
 * Export's share of issue 8: content that is not a registry graph (files, charts from classic
 * index.yaml repositories) is downloaded into the cache and packaged as OCI artifacts, and the
 * images charts name (`includeImages: true`) join the image roots.
 */
export interface CarryContext {
  readonly cache: LayoutStore;
  readonly mirror: MirrorList;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Filled by resolveCarried. */
  readonly carried: CarriedArtifact[];
  /** Chart `registry/repository:tag` → the images it names (includeImages only). */
  readonly chartImages: Map<string, readonly ChartImage[]>;
  /** Blobs the site writes under files/: always carried in the bundle, never left to a base. */
  deliveredBlobs?: Set<Digest>;
  /** Classic charts carried as another chart's dependency: `repository:tag` → that chart. */
  readonly dependencyOf?: Map<string, string>;
  /** Release files' checked signatures and checksums (files/release-signatures.ts), by file name. */
  releaseFiles?: ReadonlyMap<string, ReleaseFileDetails>;
}

/** The mirror list's `registries:` settings apply to file and chart-repository hosts too. */
export function hostSettingsOf(mirror: MirrorList): (host: string) => HostSettings | undefined {
  return (host) => {
    const s = mirror.registries.get(host.toLowerCase());
    return s ? { ...(s.tls ? { tls: s.tls } : {}), ...(s.certDir ? { certDir: s.certDir } : {}) } : undefined;
  };
}

/** Jobs resolving every `files:` entry. */
export function resolveCarried(carry: CarryContext): Promise<void>[] {
  const hostSettings = hostSettingsOf(carry.mirror);
  const sig = carry.signal ? { signal: carry.signal } : {};
  return carry.mirror.files.map((f) => resolveFileEntry(f, { cache: carry.cache, hostSettings, ...sig }).then((a) => {
    carry.carried.push(a);
  }));
}

/** A `repo:` chart (from the list or a chart's dependencies): carried, its images handed to `addImage`; returns its files. */
export async function resolveRepoChart(
  carry: CarryContext,
  c: Extract<ChartEntry, { kind: 'repo' }>,
  addImage: (ref: Reference, where: string, index: number) => void,
  index: number,
  parent?: string,
): Promise<{ readonly files: ChartFiles; readonly label: string }> {
  const r = await resolveClassicChart(c, {
    cache: carry.cache, hostSettings: hostSettingsOf(carry.mirror), includeImages: c.includeImages, logger: carry.logger, ...(carry.signal ? { signal: carry.signal } : {}),
  });
  carry.carried.push(r.artifact);
  if (parent) carry.dependencyOf?.set(`${r.artifact.repository}:${r.artifact.tag}`, parent);
  if (c.includeImages) {
    carry.chartImages.set(`${r.artifact.repository}:${r.artifact.tag}`, r.images);
    for (const img of r.images) addImage(img.reference, c.where, 1000 + index);
  }
  return { files: r.files, label: `${r.artifact.repository}:${r.artifact.tag}` };
}

/** An OCI chart's files (its chart layer, verified) and, with includeImages, the images it names. */
export async function readOciChartFiles(repo: RegistryRepository, key: string, tag: string, carry: CarryContext, includeImages: boolean, signal?: AbortSignal): Promise<{ files: ChartFiles; images: readonly ChartImage[] }> {
  const m = await repo.fetchManifest(tag, signal ? { signal } : {});
  const files = await readOciChart(repo, m.bytes, m.desc.mediaType, key, signal);
  const images = includeImages ? findChartImages(files, key) : [];
  if (includeImages) carry.chartImages.set(key, images);
  return { files, images };
}

/** Put every carried artifact into the plan: its manifest (bytes), config (into the cache) and layers (already cached). */
export async function addCarriedRoots(carry: CarryContext, nodes: Map<Digest, PlanNode>, roots: PlannedRoot[]): Promise<void> {
  const delivered = new Set<Digest>();
  for (const a of carry.carried) {
    await carry.cache.pushBytes(a.config.desc, a.config.bytes);
    nodes.set(a.manifest.desc.digest, {
      desc: a.manifest.desc, kind: 'manifest', bytes: a.manifest.bytes, children: [a.config.desc.digest, ...a.layers.map((l) => l.digest)],
    });
    if (!nodes.has(a.config.desc.digest)) nodes.set(a.config.desc.digest, { desc: a.config.desc, kind: 'config', children: [] });
    for (const l of a.layers) {
      if (!nodes.has(l.digest)) nodes.set(l.digest, { desc: l, kind: 'layer', children: [] });
      delivered.add(l.digest);
    }
    roots.push({
      kind: a.kind, repository: a.repository, registry: a.registry, repositoryPath: a.repositoryPath, tag: a.tag,
      desc: a.manifest.desc, fileName: a.fileName, ...(a.artifactType ? { artifactType: a.artifactType } : {}),
    });
  }
  carry.deliveredBlobs = delivered;
}

/** airlock.json details only export knows: where carried bytes came from, the images a chart names. */
export function withCarriedDetails(carry: CarryContext, a: BundleArtifact): BundleArtifact {
  const carried = carry.carried.find((c) => c.manifest.desc.digest === a.digest && c.repository === a.repository);
  const images = a.kind === 'chart' && a.tag !== undefined ? carry.chartImages.get(`${a.repository}:${a.tag}`) : undefined;
  return {
    ...a,
    ...(carried ? { origin: carried.origin } : {}),
    ...(a.kind === 'file' && a.fileName ? carry.releaseFiles?.get(a.fileName) : {}),
    ...(a.kind === 'chart' && a.tag !== undefined && carry.dependencyOf?.get(`${a.repository}:${a.tag}`) ? { dependencyOf: carry.dependencyOf.get(`${a.repository}:${a.tag}`)! } : {}),
    ...(images && images.length > 0 ? { chartImages: images.map((i) => ({ ref: i.ref, ...(i.valuesPath !== undefined ? { valuesPath: i.valuesPath } : {}) })) } : {}),
  };
}
