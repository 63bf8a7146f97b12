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
  const put = async (rel: string, text: string): Promise<void> => {
    const p = join(o.outDir, rel);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFileAtomic(p, text);
    written.push(p);
  };
  const host = o.target.host;
  const mirrored = (a: MappedArtifact): string => `${host}/${a.targetRepository}${a.tag !== undefined ? `:${a.tag}` : ''}@${a.digest}`;
  const images = o.artifacts.filter((a) => a.kind !== 'file');

  await put('image-map.json', `${JSON.stringify({
    version: 1,
    target: `${host}${o.target.prefix ? `/${o.target.prefix}` : ''}`,
    layout: o.layout,
    images: images.map((a) => ({ kind: a.kind, source: a.source, mirror: mirrored(a), repository: `${host}/${a.targetRepository}`, ...(a.tag !== undefined ? { tag: a.tag } : {}), digest: a.digest, status: a.status })),
  }, null, 2)}\n`);
  await put('image-map.txt', images.map((a) => `${a.source}=${mirrored(a)}\n`).join(''));

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
  await put('registries.conf.d/airlock.conf', conf.join('\n'));

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
    await put(`containerd/certs.d/${u === DOCKER_HUB ? 'docker.io' : u}/hosts.toml`, `${lines.join('\n')}\n`);
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
  await put('k3s-registries.yaml', `${k3s.join('\n')}\n`);

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
  await put('values-registry.yaml', `${values.join('\n')}\n`);

  await put('receipt.json', `${JSON.stringify(o.receipt, null, 2)}\n`);
  return written;
}

function toml(s: string): string {
  return JSON.stringify(s);
}

function yamlKey(s: string): string {
  return /^[A-Za-z0-9._-]+$/.test(s) ? s : JSON.stringify(s);
}
