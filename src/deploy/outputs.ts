import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { splitReference, type TargetRegistry, type RepositoryLayout } from '../reference/index.js';
import { writeFileAtomic, writeFileAtomicIfChanged } from '../util/index.js';
import type { Receipt } from './receipt.js';
import { mirrorConfigFiles, type TargetAccess } from './mirror-config.js';

export interface MappedArtifact {
  readonly kind: string;
  /** `registry/repository[:tag]@digest` as in airlock.json. */
  readonly source: string;
  readonly sourceRegistry: string;
  readonly sourceRepository: string;
  readonly tag?: string;
  readonly digest: string;
  /** Repository path in the target. */
  readonly targetRepository: string;
  readonly status: 'pushed' | 'present' | 'waiting';
  /** Charts exported with includeImages: the images the chart names (airlock.json `chartImages`). */
  readonly chartImages?: readonly { readonly ref: string; readonly valuesPath?: string }[];
}

export interface DeployOutputsOptions {
  readonly outDir: string;
  readonly target: TargetRegistry;
  readonly layout: RepositoryLayout;
  readonly artifacts: readonly MappedArtifact[];
  /** How import reached the target (scheme, TLS, CA, auth): the mirror configs say the same. */
  readonly access: TargetAccess;
  readonly receipt: Receipt;
}

/** Write the import's outputs for the nodes that will pull (docs/deploy-outputs.md). */
export async function writeDeployOutputs(o: DeployOutputsOptions): Promise<string[]> {
  const written: string[] = [];
  // The files are independent: written side by side (each one atomically, synced), the receipt
  // last, once all the others are whole. A file that already holds its text (a re-import into the
  // same --out-dir) is left as it is; the receipt (its times) always changes.
  const pending: Promise<void>[] = [];
  const write = async (p: string, text: string, ifChanged = false): Promise<void> => {
    await mkdir(join(p, '..'), { recursive: true });
    if (ifChanged) await writeFileAtomicIfChanged(p, text);
    else await writeFileAtomic(p, text);
  };
  const put = (rel: string, text: string): void => {
    const p = join(o.outDir, rel);
    written.push(p);
    pending.push(write(p, text, true));
  };
  const host = o.target.host;
  const mirrored = (a: MappedArtifact): string => `${host}/${a.targetRepository}${a.tag !== undefined ? `:${a.tag}` : ''}@${a.digest}`;
  const images = o.artifacts.filter((a) => a.kind !== 'file');

  put('image-map.json', `${JSON.stringify({
    version: 1,
    target: `${host}${o.target.prefix ? `/${o.target.prefix}` : ''}`,
    layout: o.layout,
    images: images.map((a) => ({ kind: a.kind, source: a.source, mirror: mirrored(a), repository: `${host}/${a.targetRepository}`, ...(a.tag !== undefined ? { tag: a.tag } : {}), digest: a.digest, status: a.status })),
  }, null, 2)}\n`);
  put('image-map.txt', images.map((a) => `${a.source}=${mirrored(a)}\n`).join(''));

  // Mirror configurations for the upstream registries the nodes will ask for, each mapped to where
  // its repositories landed, reached the way import reached the target.
  const upstreams = images.map((a) => a.sourceRegistry);
  for (const f of mirrorConfigFiles({ target: o.target, layout: o.layout, upstreams, access: o.access })) put(f.path, f.text);

  // Helm values: the common conventions (global.imageRegistry) plus a digest-pinned map per image.
  const values = [
    '# Written by airlock bundle import. Digest-pinned references to the mirrored images.',
    'global:',
    `  imageRegistry: ${JSON.stringify(o.target.prefix ? `${host}/${o.target.prefix}` : host)}`,
    'airlock:',
    '  images:',
  ];
  for (const a of images.filter((x) => x.kind === 'image')) {
    values.push(`    ${JSON.stringify(a.source.split('@')[0])}:`, `      registry: ${JSON.stringify(host)}`,
      `      repository: ${JSON.stringify(a.targetRepository)}`, ...(a.tag !== undefined ? [`      tag: ${JSON.stringify(a.tag)}`] : []),
      `      digest: ${JSON.stringify(a.digest)}`);
  }
  values.push(...chartValues(o.artifacts, host));
  put('values-registry.yaml', `${values.join('\n')}\n`);
  for (const c of chartValueFiles(o.artifacts, host)) put(c.path, c.text);

  const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const receipt = join(o.outDir, 'receipt.json');
  await write(receipt, `${JSON.stringify(o.receipt, null, 2)}\n`);
  written.push(receipt);
  return written;
}

function yamlKey(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) ? s : JSON.stringify(s);
}

interface PinnedImage {
  readonly ref: string;
  readonly valuesPath?: string;
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest: string;
}

/** Each chart's images (includeImages), resolved to where they landed in the target. */
function pinnedChartImages(artifacts: readonly MappedArtifact[], host: string): { chart: MappedArtifact; images: PinnedImage[] }[] {
  const images = artifacts.filter((a) => a.kind === 'image');
  const out: { chart: MappedArtifact; images: PinnedImage[] }[] = [];
  for (const chart of artifacts.filter((a) => a.kind === 'chart' && a.chartImages && a.chartImages.length > 0)) {
    const pinned: PinnedImage[] = [];
    for (const ci of chart.chartImages!) {
      const { name: repo, tag, digest } = splitReference(ci.ref);
      const match = images.find((a) => `${a.sourceRegistry}/${a.sourceRepository}` === repo &&
        (digest !== undefined ? a.source.endsWith(`@${digest}`) || a.digest === digest : a.tag === tag));
      if (!match) continue;
      pinned.push({ ref: ci.ref, ...(ci.valuesPath !== undefined ? { valuesPath: ci.valuesPath } : {}), registry: host, repository: match.targetRepository, ...(match.tag !== undefined ? { tag: match.tag } : {}), digest: match.digest });
    }
    out.push({ chart, images: pinned });
  }
  return out;
}

/** `airlock.charts` in values-registry.yaml: per chart, every image it names → mirrored repository and digest. */
function chartValues(artifacts: readonly MappedArtifact[], host: string): string[] {
  const charts = pinnedChartImages(artifacts, host);
  if (charts.length === 0) return [];
  const lines = ['  charts:'];
  for (const { chart, images } of charts) {
    lines.push(`    ${JSON.stringify(chart.source.split('@')[0])}:`, '      images:');
    if (images.length === 0) lines[lines.length - 1] += ' []';
    for (const i of images) {
      lines.push(`        - source: ${JSON.stringify(i.ref)}`,
        ...(i.valuesPath !== undefined ? [`          valuesPath: ${JSON.stringify(i.valuesPath)}`] : []),
        `          registry: ${JSON.stringify(i.registry)}`, `          repository: ${JSON.stringify(i.repository)}`,
        ...(i.tag !== undefined ? [`          tag: ${JSON.stringify(i.tag)}`] : []), `          digest: ${JSON.stringify(i.digest)}`);
    }
  }
  return lines;
}

/**
 * `values/<chart>-<version>.yaml`, ready for `helm install -f`: at each values path where the chart
 * names an image block, the common convention's keys (`registry`, `repository`, `tag`, `digest`)
 * pointing at the mirror, and `global.imageRegistry` set to the mirror host (Bitnami-style charts
 * prefer it over `image.registry`; the repository then carries the target prefix). Paths inside
 * lists (`extraImages[0]`) cannot be set by a values file without replacing the whole list: they
 * are listed in values-registry.yaml only.
 */
function chartValueFiles(artifacts: readonly MappedArtifact[], host: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const { chart, images } of pinnedChartImages(artifacts, host)) {
    const tree = new Map<string, unknown>();
    for (const i of images) {
      if (i.valuesPath === undefined || i.valuesPath === '' || /[[\]]/.test(i.valuesPath)) continue;
      setPath(tree, i.valuesPath.split('.'), new Map<string, unknown>([
        ['registry', i.registry], ['repository', i.repository], ...(i.tag !== undefined ? [['tag', i.tag] as [string, string]] : []), ['digest', i.digest],
      ]));
    }
    const name = chart.sourceRepository.split('/').pop() ?? 'chart';
    const lines = [
      `# Written by airlock bundle import: helm install -f this file to pull ${name}'s images from the mirror, pinned by digest.`,
      'global:', `  imageRegistry: ${JSON.stringify(host)}`,
      ...yamlTree(tree, ''),
    ];
    out.push({ path: `values/${name}${chart.tag !== undefined ? `-${chart.tag}` : ''}.yaml`, text: `${lines.join('\n')}\n` });
  }
  return out;
}

function setPath(tree: Map<string, unknown>, path: readonly string[], leaf: Map<string, unknown>): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    tree.set(head, leaf);
    return;
  }
  let next = tree.get(head);
  if (!(next instanceof Map)) tree.set(head, (next = new Map<string, unknown>()));
  setPath(next as Map<string, unknown>, rest, leaf);
}

function yamlTree(tree: ReadonlyMap<string, unknown>, indent: string): string[] {
  const lines: string[] = [];
  for (const [k, v] of tree) {
    if (v instanceof Map) lines.push(`${indent}${yamlKey(k)}:`, ...yamlTree(v as Map<string, unknown>, `${indent}  `));
    else lines.push(`${indent}${yamlKey(k)}: ${JSON.stringify(v)}`);
  }
  return lines;
}
