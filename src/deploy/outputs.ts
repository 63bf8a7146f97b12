import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_HUB, DOCKER_HUB_API_HOST, type TargetRegistry, type RepositoryLayout } from '../reference/index.js';
import { writeFileAtomic } from '../util/index.js';
import type { Receipt } from './receipt.js';

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
  /** The target is reached over plain HTTP or without TLS verification. */
  readonly insecure: boolean;
  readonly plainHttp: boolean;
  /** CA certificate path the nodes should trust, if any (copied as-is into the snippets). */
  readonly caFile?: string;
  readonly receipt: Receipt;
}

/** Write the import's outputs for the nodes that will pull (CONTRACT.md "Import outputs"). */
export async function writeDeployOutputs(o: DeployOutputsOptions): Promise<string[]> {
  const written: string[] = [];
  // The files are independent: written side by side (each one atomically, synced), the receipt
  // last, once all the others are whole.
  const pending: Promise<void>[] = [];
  const write = async (p: string, text: string): Promise<void> => {
    await mkdir(join(p, '..'), { recursive: true });
    await writeFileAtomic(p, text);
  };
  const put = (rel: string, text: string): void => {
    const p = join(o.outDir, rel);
    written.push(p);
    pending.push(write(p, text));
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

  // Upstream registries the nodes will ask for, each mapped to where its repositories landed.
  const upstreams = [...new Set(images.map((a) => a.sourceRegistry))].sort();
  const scheme = o.plainHttp ? 'http' : 'https';
  const pathFor = (upstream: string): string =>
    [o.target.prefix, o.layout === 'scoped' ? (upstream === DOCKER_HUB ? DOCKER_HUB : upstream.replace(/:/g, '_')) : '']
      .filter((s) => s !== '').join('/');

  // CRI-O / podman: containers-registries.conf(5), v2 format.
  const conf = ['# Written by airlock bundle import. Mirrors for the registries this bundle came from.', 'unqualified-search-registries = []', ''];
  for (const u of upstreams) {
    const p = pathFor(u);
    conf.push('[[registry]]', `prefix = ${toml(u)}`, `location = ${toml(u)}`, '', '[[registry.mirror]]', `location = ${toml(p ? `${host}/${p}` : host)}`);
    if (o.insecure) conf.push('insecure = true');
    conf.push('');
  }
  put('registries.conf.d/airlock.conf', conf.join('\n'));

  // containerd: hosts.toml per upstream (https://github.com/containerd/containerd/blob/main/docs/hosts.md).
  for (const u of upstreams) {
    const p = pathFor(u);
    const server = u === DOCKER_HUB ? `https://${DOCKER_HUB_API_HOST}` : `https://${u}`;
    const hostUrl = p ? `${scheme}://${host}/v2/${p}` : `${scheme}://${host}`;
    const lines = [`server = ${toml(server)}`, '', `[host.${toml(hostUrl)}]`, '  capabilities = ["pull", "resolve"]'];
    // Without override_path containerd asks for /v2/<prefix>/v2/... and falls back to upstream (NOTES.md).
    if (p) lines.push('  override_path = true');
    if (o.caFile) lines.push(`  ca = ${toml(o.caFile)}`);
    if (o.insecure && !o.plainHttp) lines.push('  skip_verify = true');
    // containerd (1.6, Linux) looks for `<hosts dir>/<host[:port]>/hosts.toml` with the colon kept
    // (only its Windows build drops it): `127.0.0.1_5000` would never be read (NOTES.md).
    put(`containerd/certs.d/${u === DOCKER_HUB ? 'docker.io' : u}/hosts.toml`, `${lines.join('\n')}\n`);
  }

  // k3s / RKE2 registries.yaml.
  const k3s = ['# Written by airlock bundle import: /etc/rancher/k3s/registries.yaml (or /etc/rancher/rke2/registries.yaml)', 'mirrors:'];
  for (const u of upstreams) {
    const p = pathFor(u);
    k3s.push(`  ${yamlKey(u)}:`, '    endpoint:', `      - ${JSON.stringify(`${scheme}://${host}`)}`);
    if (p) k3s.push('    rewrite:', `      ${JSON.stringify('^(.*)$')}: ${JSON.stringify(`${p}/$1`)}`);
  }
  k3s.push('configs:', `  ${yamlKey(host)}:`);
  if (o.caFile || o.insecure) {
    k3s.push('    tls:');
    if (o.caFile) k3s.push(`      ca_file: ${JSON.stringify(o.caFile)}`);
    if (o.insecure && !o.plainHttp) k3s.push('      insecure_skip_verify: true');
  } else k3s.push('    {}');
  put('k3s-registries.yaml', `${k3s.join('\n')}\n`);

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

function toml(s: string): string {
  return JSON.stringify(s);
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
      const at = ci.ref.indexOf('@');
      const name = at >= 0 ? ci.ref.slice(0, at) : ci.ref;
      const digest = at >= 0 ? ci.ref.slice(at + 1) : undefined;
      const colon = name.lastIndexOf(':');
      const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
      const repo = tag !== undefined ? name.slice(0, colon) : name;
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
