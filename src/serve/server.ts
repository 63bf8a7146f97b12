import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, ioError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { verifyStream } from '../content/index.js';
import { MEDIA_TYPE_OCI_INDEX, isDigest, type Descriptor, type Digest } from '../oci/index.js';
import {
  HEADER_CONTENT_LENGTH, HEADER_CONTENT_RANGE, HEADER_CONTENT_TYPE, HEADER_DOCKER_CONTENT_DIGEST, HEADER_LINK,
  HEADER_OCI_FILTERS_APPLIED,
} from '../registry/index.js';
import type { ServeCatalog, ServeContent, ServedRepository } from './catalog.js';

/** One request answered, for logs and tests. */
export interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
}

export interface RegistryServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger?: Logger;
  readonly onRequest?: (r: ServedRequest) => void;
  /** HTTPS with this certificate (chain) and key, PEM; absent: plain HTTP. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Basic auth: every request must carry credentials this accepts (401 with a Basic challenge otherwise). */
  readonly auth?: { check(authorization: string | undefined): Promise<boolean> };
}

export interface RegistryServer {
  /** `http(s)://HOST:PORT` as bound (the real port when 0 was asked). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stop accepting, drop open connections, resolve when the socket is closed. */
  close(): Promise<void>;
}

/** Largest page of a tag list or catalog, as Distribution caps `_catalog` (docs/ARCHITECTURE.md "Distribution"). */
const MAX_PAGE = 1000;

// Distribution spec error codes (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
type SpecError = 'UNAUTHORIZED' | 'NAME_UNKNOWN' | 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'DIGEST_INVALID' | 'NAME_INVALID' | 'UNSUPPORTED' | 'PAGINATION_NUMBER_INVALID';

class HttpError extends Error {
  constructor(readonly status: number, readonly code: SpecError, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/;
const TAGS_ROUTE = /^\/v2\/(.+)\/tags\/list$/;

/**
 * A read-only OCI distribution endpoint over a catalog: /v2/, manifests and blobs by tag and
 * digest (GET, HEAD, single Range), tag list and catalog with `n`/`last` pagination, and the
 * referrers API. Every write answers 405 UNSUPPORTED. Binds only the address it is given.
 */
export async function startRegistryServer(catalog: ServeCatalog, content: ServeContent, opts: RegistryServerOptions): Promise<RegistryServer> {
  const logger = opts.logger ?? NOOP_LOGGER;
  const inflight = new AbortController();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res).catch((err: unknown) => {
      logger.warn(`${req.method ?? '?'} ${req.url ?? '?'}: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, new HttpError(500, 'UNSUPPORTED', 'internal error'));
      else res.destroy();
    });
  };
  const server: Server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest) : createServer(onRequest);
  // Pulls of large layers take long: no request timeout (Node's default is 300 s).
  server.requestTimeout = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://serve.invalid');
    let sent = 0;
    res.on('finish', () => {
      const r = { method, path: url.pathname, status: res.statusCode, bytes: sent };
      logger.debug(`${method} ${url.pathname}${url.search} → ${res.statusCode}`);
      opts.onRequest?.(r);
    });
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    try {
      // Every route, /v2/ included: that is where clients learn that auth is needed (distribution spec, "Authentication").
      if (opts.auth && !(await opts.auth.check(req.headers.authorization))) {
        throw new HttpError(401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="airlock bundle serve"' });
      }
      if (method !== 'GET' && method !== 'HEAD') {
        throw new HttpError(405, 'UNSUPPORTED', 'this registry is a read-only view of an Airlock bundle', { Allow: 'GET, HEAD' });
      }
      const head = method === 'HEAD';
      const path = url.pathname;
      if (path === '/v2/' || path === '/v2') {
        sendJson(res, 200, {}, head);
        return;
      }
      if (path === '/v2/_catalog') {
        const page = paginate([...catalog.repositories.keys()].sort(), url);
        if (page.next !== undefined) res.setHeader(HEADER_LINK, `</v2/_catalog?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        sendJson(res, 200, { repositories: page.items }, head);
        return;
      }
      const tags = TAGS_ROUTE.exec(path);
      if (tags) {
        const repo = repository(catalog, tags[1]!);
        const page = paginate([...repo.tags.keys()].sort(), url);
        if (page.next !== undefined) res.setHeader(HEADER_LINK, `</v2/${repo.name}/tags/list?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        sendJson(res, 200, { name: repo.name, tags: page.items }, head);
        return;
      }
      const m = ROUTE.exec(path);
      if (!m) throw new HttpError(404, 'NAME_UNKNOWN', `no route for ${path}`);
      const repo = repository(catalog, m[1]!);
      const ref = decodeURIComponent(m[3]!);
      switch (m[2]) {
        case 'manifests': {
          const found = isDigest(ref) ? repo.manifests.get(ref) : (() => {
            const d = repo.tags.get(ref);
            return d ? repo.manifests.get(d.digest) : undefined;
          })();
          if (!found) throw new HttpError(404, 'MANIFEST_UNKNOWN', `manifest ${ref} is not in ${repo.name}`);
          sendBytes(res, found.desc, found.bytes, head);
          sent = head ? 0 : found.bytes.length;
          return;
        }
        case 'blobs': {
          if (!isDigest(ref)) throw new HttpError(400, 'DIGEST_INVALID', `${ref} is not a digest`);
          const manifest = repo.manifests.get(ref);
          const desc = manifest?.desc ?? repo.blobs.get(ref);
          if (!desc || (!manifest && !(await content.has(desc)))) throw new HttpError(404, 'BLOB_UNKNOWN', `blob ${ref} is not in ${repo.name}`);
          sent = await sendBlob(req, res, desc, manifest?.bytes, head);
          return;
        }
        case 'referrers': {
          if (!isDigest(ref)) throw new HttpError(400, 'DIGEST_INVALID', `${ref} is not a digest`);
          const all = repo.referrers.get(ref) ?? [];
          const wanted = url.searchParams.get('artifactType');
          const list = wanted ? all.filter((d) => d.artifactType === wanted) : all;
          if (wanted) res.setHeader(HEADER_OCI_FILTERS_APPLIED, 'artifactType');
          const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: list }));
          res.writeHead(200, { [HEADER_CONTENT_TYPE]: MEDIA_TYPE_OCI_INDEX, [HEADER_CONTENT_LENGTH]: String(body.length) });
          res.end(head ? undefined : body);
          return;
        }
        default:
          throw new HttpError(404, 'NAME_UNKNOWN', `no route for ${path}`);
      }
    } catch (err) {
      if (err instanceof HttpError) {
        sendError(res, err, method === 'HEAD');
        return;
      }
      throw err;
    }
  }

  async function sendBlob(req: IncomingMessage, res: ServerResponse, desc: Descriptor, bytes: Buffer | undefined, head: boolean): Promise<number> {
    const base = {
      [HEADER_CONTENT_TYPE]: 'application/octet-stream',
      [HEADER_DOCKER_CONTENT_DIGEST]: desc.digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${desc.digest}"`,
    };
    const range = parseRange(req.headers.range, desc.size);
    if (range === 'unsatisfiable') {
      throw new HttpError(416, 'BLOB_UNKNOWN', `range ${req.headers.range ?? ''} is outside the blob's ${desc.size} bytes`, { [HEADER_CONTENT_RANGE]: `bytes */${desc.size}` });
    }
    if (range) {
      const length = range.end - range.start + 1;
      res.writeHead(206, { ...base, [HEADER_CONTENT_LENGTH]: String(length), [HEADER_CONTENT_RANGE]: `bytes ${range.start}-${range.end}/${desc.size}` });
      if (head) return void res.end(), 0;
      if (bytes) return void res.end(bytes.subarray(range.start, range.end + 1)), length;
      await stream(res, await content.fetchRange(desc, range.start, range.end, inflight.signal), undefined, desc.digest);
      return length;
    }
    res.writeHead(200, { ...base, [HEADER_CONTENT_LENGTH]: String(desc.size) });
    if (head) return void res.end(), 0;
    if (bytes) return void res.end(bytes), bytes.length;
    // A whole blob is checked while it streams: a damaged bundle cuts the response short
    // (the client sees a truncated body, never wrong bytes under a good digest).
    await stream(res, await content.fetch(desc, inflight.signal), desc, desc.digest);
    return desc.size;
  }

  async function stream(res: ServerResponse, body: Readable, verify: Descriptor | undefined, digest: Digest): Promise<void> {
    try {
      if (verify) await pipeline(body, verifyStream(verify, { where: `blob ${digest}` }), res);
      else await pipeline(body, res);
    } catch (err) {
      res.destroy();
      if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || inflight.signal.aborted) return;
      const e = err instanceof AirlockError ? err : ioError(err, 'read', digest);
      logger.warn(`blob ${digest}: ${e.message}${e.code === 'DIGEST_MISMATCH' || e.code === 'SIZE_MISMATCH' ? ' (the bundle is damaged: run `airlock bundle verify`)' : ''}`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const hint = err.code === 'EADDRINUSE' ? 'another process listens there: pick another port with --listen HOST:PORT'
        : err.code === 'EADDRNOTAVAIL' ? 'this machine has no such address: use 127.0.0.1 or one of its own addresses'
          : err.code === 'EACCES' ? 'ports below 1024 need privileges: use a port above 1024' : undefined;
      reject(new AirlockError('IO', `cannot listen on ${formatHostPort(opts.host, opts.port)} (${err.code ?? err.message})`, {
        cause: err, where: '--listen', ...(hint ? { hint } : {}),
      }));
    };
    server.once('error', onError);
    server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${formatHostPort(addr.address, addr.port)}`,
    host: addr.address,
    port: addr.port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        inflight.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function repository(catalog: ServeCatalog, name: string): ServedRepository {
  const repo = catalog.repositories.get(name);
  if (!repo) throw new HttpError(404, 'NAME_UNKNOWN', `repository ${name} is not in this bundle`);
  return repo;
}

/** `n` and `last` as the spec's "Listing Tags" describes: items after `last`, at most `n`. */
function paginate(sorted: readonly string[], url: URL): { items: string[]; n: number; next?: string } {
  const nText = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  let n = MAX_PAGE;
  if (nText !== null) {
    n = Number(nText);
    if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'PAGINATION_NUMBER_INVALID', `n=${nText} is not a whole number`);
    n = Math.min(n, MAX_PAGE);
  }
  const from = last === null ? sorted : sorted.filter((t) => t > last);
  const items = from.slice(0, n);
  return { items, n, ...(from.length > n && items.length > 0 ? { next: items[items.length - 1]! } : {}) };
}

/**
 * One `bytes=` range (RFC 9110 §14.1.2); several ranges or other units are ignored (the whole
 * body is a valid answer to them, §14.2).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function sendJson(res: ServerResponse, status: number, doc: unknown, head = false): void {
  const body = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { [HEADER_CONTENT_TYPE]: 'application/json', [HEADER_CONTENT_LENGTH]: String(body.length) });
  res.end(head ? undefined : body);
}

function sendBytes(res: ServerResponse, desc: Descriptor, bytes: Buffer, head: boolean): void {
  res.writeHead(200, {
    [HEADER_CONTENT_TYPE]: desc.mediaType,
    [HEADER_CONTENT_LENGTH]: String(bytes.length),
    [HEADER_DOCKER_CONTENT_DIGEST]: desc.digest,
    ETag: `"${desc.digest}"`,
  });
  res.end(head ? undefined : bytes);
}

function sendError(res: ServerResponse, err: HttpError, head = false): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  sendJson(res, err.status, { errors: [{ code: err.code, message: err.message }] }, head);
}
