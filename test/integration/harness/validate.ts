/**
 * Invariant checks on what the tool writes, made without the code under test (its own HTTP
 * client, its own JSON reading, node:crypto for digests):
 * - validateLayout(dir): an OCI image layout whose every blob hashes to its name and whose every
 *   descriptor reachable from index.json is present with its size (ggcr pkg/v1/validate).
 * - validateRegistry(ep): every tag of every repository resolves to a manifest whose whole graph
 *   (child manifests, config, layers) exists with the right digests and sizes. This is the
 *   "no tag points at incomplete content" check of the kill tests.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import {
  MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
} from '../../../src/oci/index.js';
import type { RegistryEndpoint } from './oci-http.js';

// The judge's own narrow view of manifests: it must not share the parser under test.
export interface RawDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
  readonly annotations?: Readonly<Record<string, string>>;
}
export interface RawManifest {
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config?: RawDescriptor;
  readonly layers?: readonly RawDescriptor[];
  readonly manifests?: readonly RawDescriptor[];
  readonly subject?: RawDescriptor;
}

export const sha256Of = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST]);
const ACCEPT = [...MANIFEST_TYPES].join(', ');

function children(m: RawManifest): { manifests: RawDescriptor[]; blobs: RawDescriptor[] } {
  if (m.manifests) return { manifests: [...m.manifests], blobs: [] };
  return { manifests: [], blobs: [...(m.config ? [m.config] : []), ...(m.layers ?? [])] };
}

// ---------------------------------------------------------------------------------------------
// OCI image layout

export interface LayoutReport {
  /** Ref names (org.opencontainers.image.ref.name) in index.json → descriptor. */
  readonly refs: ReadonlyMap<string, RawDescriptor>;
  /** Every blob file (digest → size). */
  readonly blobs: ReadonlyMap<string, number>;
  /** Digests reachable from index.json. */
  readonly reachable: ReadonlySet<string>;
}

export interface ValidateLayoutOptions {
  /** Blobs that may be absent (a delta's base blobs, a volume's other share). Default none. */
  readonly mayLack?: (digest: string) => boolean;
}

/** Check an OCI image layout; throws one Error listing every problem found. */
export async function validateLayout(dir: string, opts: ValidateLayoutOptions = {}): Promise<LayoutReport> {
  const problems: string[] = [];
  const layoutFile = await readFile(join(dir, 'oci-layout'), 'utf8').catch(() => undefined);
  if (layoutFile === undefined) problems.push('oci-layout is missing');
  else if ((JSON.parse(layoutFile) as { imageLayoutVersion?: string }).imageLayoutVersion !== '1.0.0') problems.push('oci-layout: imageLayoutVersion is not 1.0.0');
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { schemaVersion?: number; manifests?: RawDescriptor[] };
  if (index.schemaVersion !== 2) problems.push('index.json: schemaVersion is not 2');

  const blobs = new Map<string, number>();
  const blobDir = join(dir, 'blobs', 'sha256');
  for (const name of await readdir(blobDir)) {
    const bytes = await readFile(join(blobDir, name));
    const digest = `sha256:${name}`;
    if (sha256Of(bytes) !== digest) problems.push(`blobs/sha256/${name} does not hash to its name`);
    blobs.set(digest, bytes.length);
  }
  for (const other of await readdir(dir)) {
    if (!['oci-layout', 'index.json', 'blobs', 'airlock.json', 'airlock.sigstore.json', 'pieces', 'checksums.txt'].includes(other)) {
      problems.push(`unexpected entry ${other} at the top of the layout`);
    }
  }

  const refs = new Map<string, RawDescriptor>();
  const reachable = new Set<string>();
  const visit = async (d: RawDescriptor, where: string): Promise<void> => {
    if (reachable.has(d.digest)) return;
    reachable.add(d.digest);
    const size = blobs.get(d.digest);
    if (size === undefined) {
      if (!opts.mayLack?.(d.digest)) problems.push(`${where}: ${d.digest} is missing`);
      return;
    }
    if (size !== d.size) problems.push(`${where}: ${d.digest} has ${size} bytes, the descriptor says ${d.size}`);
    if (!MANIFEST_TYPES.has(d.mediaType)) return;
    const m = JSON.parse(await readFile(join(blobDir, d.digest.slice(7)), 'utf8')) as RawManifest;
    const c = children(m);
    for (const x of [...c.manifests, ...c.blobs]) await visit(x, `${where} → ${x.digest.slice(0, 19)}`);
  };
  for (const [i, d] of (index.manifests ?? []).entries()) {
    const ref = d.annotations?.['org.opencontainers.image.ref.name'];
    if (ref !== undefined) {
      if (refs.has(ref)) problems.push(`index.json: ref name ${ref} appears twice`);
      refs.set(ref, d);
    }
    await visit(d, `index.json manifests[${i}]${ref ? ` (${ref})` : ''}`);
  }
  if (problems.length > 0) throw new Error(`invalid OCI layout ${dir}:\n  ${problems.join('\n  ')}`);
  return { refs, blobs, reachable };
}

/** Size of a file, or undefined. */
export async function fileSize(path: string): Promise<number | undefined> {
  return (await stat(path).catch(() => undefined))?.size;
}

// ---------------------------------------------------------------------------------------------
// Registry

interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request with the endpoint's basic auth and CA; follows one redirect for blobs. */
export async function registryRequest(ep: RegistryEndpoint, method: string, path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const url = new URL(path, ep.url);
  const auth: Record<string, string> = ep.username !== undefined
    ? { authorization: `Basic ${Buffer.from(`${ep.username}:${ep.password ?? ''}`).toString('base64')}` }
    : {};
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const res = await new Promise<HttpResponse>((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, ...auth }, ...(ep.ca ? { ca: ep.ca } : {}), ...(ep.cert && ep.key ? { cert: ep.cert, key: ep.key } : {}) }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
      r.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  if ((res.status === 307 || res.status === 302) && res.headers.location && method === 'GET') {
    return registryRequest(ep, method, res.headers.location, headers);
  }
  return res;
}

/** Every repository (`_catalog`, paginated: Distribution refuses n > 1000). */
export async function listRepositories(ep: RegistryEndpoint): Promise<string[]> {
  const out: string[] = [];
  let path: string | undefined = '/v2/_catalog?n=1000';
  while (path) {
    const res = await registryRequest(ep, 'GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
    out.push(...((JSON.parse(res.body.toString('utf8')) as { repositories?: string[] }).repositories ?? []));
    const link = res.headers.link;
    path = typeof link === 'string' ? /<([^>]+)>/.exec(link)?.[1] : undefined;
  }
  return out.sort();
}

export async function listTags(ep: RegistryEndpoint, repository: string): Promise<string[]> {
  const res = await registryRequest(ep, 'GET', `/v2/${repository}/tags/list?n=1000`);
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`tags of ${repository}: HTTP ${res.status}`);
  return ((JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []).sort();
}

/** Raw manifest bytes by tag or digest, or undefined when the registry has none. */
export async function getManifest(ep: RegistryEndpoint, repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string } | undefined> {
  const res = await registryRequest(ep, 'GET', `/v2/${repository}/manifests/${reference}`, { accept: ACCEPT });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`manifest ${repository}:${reference}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  return { bytes: res.body, mediaType: String(res.headers['content-type'] ?? ''), digest: sha256Of(res.body) };
}

export async function hasManifest(ep: RegistryEndpoint, repository: string, digest: string): Promise<boolean> {
  const res = await registryRequest(ep, 'HEAD', `/v2/${repository}/manifests/${digest}`, { accept: ACCEPT });
  return res.status === 200;
}

export interface RegistryReport {
  /** `repository:tag` → manifest digest, for every tag (the target state). */
  readonly tags: ReadonlyMap<string, string>;
  /** Every (repository, digest) checked. */
  readonly checked: number;
}

export interface ValidateRegistryOptions {
  /** Only these repositories. Default: the whole catalog. */
  readonly repositories?: readonly string[];
}

/**
 * Every tag in the registry resolves to a manifest whose whole graph exists with the right
 * digests (blobs downloaded and hashed: fine for the small profile). Throws one Error listing
 * every problem.
 */
export async function validateRegistry(ep: RegistryEndpoint, opts: ValidateRegistryOptions = {}): Promise<RegistryReport> {
  const problems: string[] = [];
  const tags = new Map<string, string>();
  let checked = 0;
  for (const repo of opts.repositories ?? (await listRepositories(ep))) {
    const seen = new Set<string>();
    const visitManifest = async (reference: string, expect: RawDescriptor | undefined, where: string): Promise<string | undefined> => {
      const m = await getManifest(ep, repo, reference);
      if (!m) {
        problems.push(`${where}: manifest ${reference} is missing`);
        return undefined;
      }
      checked++;
      if (expect && (m.digest !== expect.digest || m.bytes.length !== expect.size)) problems.push(`${where}: manifest ${reference} has digest ${m.digest}`);
      if (seen.has(m.digest)) return m.digest;
      seen.add(m.digest);
      const c = children(JSON.parse(m.bytes.toString('utf8')) as RawManifest);
      for (const d of c.manifests) await visitManifest(d.digest, d, `${where} → ${d.digest.slice(0, 19)}`);
      for (const d of c.blobs) {
        if (seen.has(d.digest)) continue;
        seen.add(d.digest);
        checked++;
        const res = await registryRequest(ep, 'GET', `/v2/${repo}/blobs/${d.digest}`);
        if (res.status !== 200) problems.push(`${where}: blob ${d.digest} is missing (HTTP ${res.status})`);
        else if (res.body.length !== d.size || sha256Of(res.body) !== d.digest) problems.push(`${where}: blob ${d.digest} has the wrong bytes`);
      }
      return m.digest;
    };
    for (const tag of await listTags(ep, repo)) {
      const digest = await visitManifest(tag, undefined, `${repo}:${tag}`);
      if (digest) tags.set(`${repo}:${tag}`, digest);
    }
  }
  if (problems.length > 0) throw new Error(`registry ${ep.url} holds incomplete content:\n  ${problems.join('\n  ')}`);
  return { tags, checked };
}

// ---------------------------------------------------------------------------------------------
// Bundles as archives, read with the system's tools (zstd) and a ustar walker of its own

export interface TarListing {
  readonly name: string;
  readonly size: number;
  readonly type: string;
}

/** Read a whole archive (`.tar`, or `.tar.zst` through the `zstd` CLI) into memory: small bundles only. */
export async function readArchive(path: string): Promise<Buffer> {
  if (!path.endsWith('.zst')) return readFile(path);
  const { execFile } = await import('node:child_process');
  return new Promise<Buffer>((resolve, reject) => {
    execFile('zstd', ['-dcq', path], { encoding: 'buffer', maxBuffer: 512 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** The entries of a tar archive in order (ustar, with pax `path` records), with their bodies. */
export async function listTar(path: string): Promise<(TarListing & { readonly body: Buffer })[]> {
  const buf = await readArchive(path);
  const out: (TarListing & { body: Buffer })[] = [];
  let off = 0;
  let paxPath: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number): string => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = str(156, 1) || '0';
    const prefix = str(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const body = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      paxPath = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
      continue;
    }
    paxPath = undefined;
    out.push({ name, size, type, body });
  }
  return out;
}
