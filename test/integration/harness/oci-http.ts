/**
 * A tiny distribution-spec client on plain node:http(s), for what skopeo 1.9.3 cannot seed:
 * Docker-media-type images held in an OCI layout (its oci: transport ignores them) and the
 * referrers tag-schema fallback index (it drops artifactType under --preserve-digests). It is
 * deliberately not the project's registry client: the harness judges that client.
 * Push protocol: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
 * (POST then monolithic PUT) and #pushing-manifests.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isManifestMediaType, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { blobPath, descendants } from '../../../scripts/fixtures/index.js';
import type { TestRegistry } from './registry.js';

export interface RegistryEndpoint {
  /** `http://127.0.0.1:PORT` or `https://…` */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export function endpointOf(reg: TestRegistry): RegistryEndpoint {
  return {
    url: reg.url,
    ...(reg.username ? { username: reg.username, password: reg.password ?? '' } : {}),
    // The client certificate is offered to every TLS test registry; only mTLS ones ask for it.
    ...(reg.ca ? {
      ca: readFileSync(reg.ca.caCert),
      cert: readFileSync(join(reg.ca.dir, 'client.crt')),
      key: readFileSync(join(reg.ca.dir, 'client.key')),
    } : {}),
  };
}

interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

async function send(
  ep: RegistryEndpoint,
  method: string,
  pathOrUrl: string,
  headers: Record<string, string | number> = {},
  body?: Buffer | Readable,
): Promise<HttpResponse> {
  const url = new URL(pathOrUrl, ep.url);
  const auth = ep.username !== undefined
    ? { authorization: `Basic ${Buffer.from(`${ep.username}:${ep.password ?? ''}`).toString('base64')}` }
    : {};
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = request(url, {
      method,
      headers: { ...headers, ...auth },
      ...(ep.ca ? { ca: ep.ca } : {}),
      ...(ep.cert && ep.key ? { cert: ep.cert, key: ep.key } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.on('error', (err) => req.destroy(err)).pipe(req);
  });
}

function expect(res: HttpResponse, ok: readonly number[], what: string): void {
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 500)}`);
  }
}

/** Push one blob from a file unless the repository already has it. */
export async function pushBlob(ep: RegistryEndpoint, repository: string, digest: Digest, file: string): Promise<void> {
  const head = await send(ep, 'HEAD', `/v2/${repository}/blobs/${digest}`);
  if (head.status === 200) return;
  const start = await send(ep, 'POST', `/v2/${repository}/blobs/uploads/`, { 'content-length': 0 });
  expect(start, [202], `start upload of ${digest} to ${repository}`);
  const location = start.headers.location;
  if (!location) throw new Error(`start upload of ${digest} to ${repository}: no Location header`);
  const target = new URL(location, ep.url);
  target.searchParams.set('digest', digest);
  const { size } = await stat(file);
  const put = await send(ep, 'PUT', target.toString(), {
    'content-type': 'application/octet-stream',
    'content-length': size,
  }, createReadStream(file));
  expect(put, [201], `upload of ${digest} to ${repository}`);
}

export async function pushManifest(ep: RegistryEndpoint, repository: string, reference: string, mediaType: string, raw: Buffer): Promise<void> {
  const res = await send(ep, 'PUT', `/v2/${repository}/manifests/${reference}`, { 'content-type': mediaType, 'content-length': raw.length }, raw);
  expect(res, [201], `push of manifest ${reference} to ${repository}`);
}

/**
 * Push `root` and everything below it from an OCI layout, children first, then `root` under
 * `reference` (a tag, or its digest). Bytes go out exactly as stored.
 */
export async function pushFromLayout(ep: RegistryEndpoint, layoutDir: string, root: Descriptor, repository: string, reference: string): Promise<void> {
  for (const d of await descendants(layoutDir, root)) {
    if (isManifestMediaType(d.mediaType)) {
      await pushManifest(ep, repository, d.digest, d.mediaType, await readFile(blobPath(layoutDir, d.digest)));
    } else {
      await pushBlob(ep, repository, d.digest, blobPath(layoutDir, d.digest));
    }
  }
  await pushManifest(ep, repository, reference, root.mediaType, await readFile(blobPath(layoutDir, root.digest)));
}

/** GET a blob's bytes (small blobs only: tests read payloads and configs with it). */
export async function fetchBlob(ep: RegistryEndpoint, repository: string, digest: Digest): Promise<Buffer> {
  let res = await send(ep, 'GET', `/v2/${repository}/blobs/${digest}`);
  // Distribution answers 307 to a storage URL when a redirecting storage driver is configured.
  if (res.status === 307 && res.headers.location) res = await send(ep, 'GET', res.headers.location);
  expect(res, [200], `fetch of ${digest} from ${repository}`);
  return res.body;
}
