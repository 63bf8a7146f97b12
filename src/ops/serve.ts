import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { basename, join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AirlockError, ioError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { createZstdDecompressStream, detectBundleForm } from '../archive/index.js';
import { BundleContentSource, bundleLabel, openBundle, readBundleFront, type BundleReader } from '../bundle/index.js';
import { hexOf, isImageManifestMediaType, parseManifest, type Descriptor, type Digest } from '../oci/index.js';
import { parseTarget, type RepositoryLayout } from '../reference/index.js';
import { verifyBundleManifest, type SignaturePolicy, type SignatureStatus } from '../signing/index.js';
import { formatBytes } from '../util/index.js';
import {
  readHtpasswd, referrersFallbackTag, referrersIndex, startRegistryServer, type ServeCatalog, type ServeContent, type ServedRepository, type ServedRequest,
  DEFAULT_LISTEN, defaultServeCacheDir, isLoopback, parseListen,
} from '../serve/index.js';
import { buildBundlePlan, mapArtifacts } from './bundle-plan.js';

export interface ServeOptions {
  /** A bundle directory, a .tar or .tar.zst, or volumes of one split bundle. */
  readonly bundles: readonly string[];
  /** `HOST:PORT` (`[::1]:5000` for IPv6). Default 127.0.0.1:5000; port 0 picks a free one. */
  readonly listen?: string;
  /** Repository naming, as import's --layout. Default flat. */
  readonly layout?: RepositoryLayout;
  readonly signature: SignaturePolicy;
  /** Where a .tar.zst is unpacked once. Default `$XDG_CACHE_HOME/airlock/serve`. */
  readonly cacheDir?: string;
  /** `--tls-cert` and `--tls-key`: serve HTTPS with this PEM certificate (chain) and key. Both or neither. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** `--htpasswd FILE`: require Basic auth from a user of this file (bcrypt entries, `htpasswd -B`). */
  readonly htpasswd?: string;
  readonly logger?: Logger;
  readonly onRequest?: (r: ServedRequest) => void;
  /** Aborting it stops the server (the CLI's SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

export interface ServeHandle {
  readonly version: 1;
  readonly url: string;
  readonly bundleId: Digest;
  readonly signature: SignatureStatus;
  readonly repositories: readonly { readonly name: string; readonly tags: readonly string[] }[];
  /** Set when .tar.zst volumes were unpacked (or found unpacked) in the cache. */
  readonly unpacked?: readonly string[];
  /** Resolves once the server has stopped (close() or the signal). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}


/**
 * `airlock bundle serve`: the registry of last resort. Checks the signature as import does, then
 * serves the bundle's manifests and blobs in place (a directory, an uncompressed tar, a .tar.zst
 * airlock wrote; any other .tar.zst is unpacked once into the cache) until `signal` aborts or
 * close() is called.
 */
export async function serveBundle(opts: ServeOptions): Promise<ServeHandle> {
  const logger = opts.logger ?? NOOP_LOGGER;
  const signal = opts.signal;
  signal?.throwIfAborted();
  const listen = parseListen(opts.listen ?? DEFAULT_LISTEN);
  const layout = opts.layout ?? 'flat';
  if (opts.bundles.length === 0) throw new AirlockError('USAGE', 'no bundle given');
  // The server's own settings are checked before the bundle is read.
  const tls = await readServeTls(opts.tlsCert, opts.tlsKey);
  const auth = opts.htpasswd ? await readHtpasswd(opts.htpasswd) : undefined;

  // 1. Trust before anything else, from the front alone (cheap even for a compressed bundle).
  const front = await readBundleFront(opts.bundles[0]!, signal ? { signal } : {});
  const status = await verifyBundleManifest({ airlockJson: front.airlockRaw, signature: front.signature, policy: opts.signature, bundlePath: bundleLabel(opts.bundles) });
  if (!status.verified) logger.warn(`serving an unverified bundle (${status.reason ?? 'unsigned'}) because --insecure-skip-signature was given`);

  // 2. Random access: a directory or an uncompressed tar as they are; a .tar.zst airlock wrote in
  // place (its layers in raw blocks: BundleReader.randomAccess); any other .tar.zst (split
  // volumes, recompressed by another tool) unpacked once into the cache.
  const forms = await Promise.all(opts.bundles.map((p) => detectBundleForm(p)));
  let inPlace: { reader: BundleReader; source: BundleContentSource } | undefined;
  if (opts.bundles.length === 1 && forms[0] === 'tar.zst') {
    const r = await openBundle(opts.bundles, signal ? { signal } : {});
    const ra = r.id === front.id ? await r.randomAccess() : undefined;
    if (ra instanceof BundleContentSource) {
      inPlace = { reader: r, source: ra };
      logger.info(`serving ${opts.bundles[0]!} in place: its layers are stored uncompressed inside the zstd frames`);
    } else await r.close();
  }
  const unpacked: string[] = [];
  const paths: string[] = [];
  if (!inPlace) {
    for (let i = 0; i < opts.bundles.length; i++) {
      if (forms[i] !== 'tar.zst') {
        paths.push(opts.bundles[i]!);
        continue;
      }
      const out = await unpackOnce(opts.bundles[i]!, front.id, resolvePath(opts.cacheDir ?? defaultServeCacheDir()), logger, signal);
      unpacked.push(out);
      paths.push(out);
    }
  }
  const reader = inPlace?.reader ?? await openBundle(paths, signal ? { signal } : {});
  try {
    if (reader.id !== front.id) {
      throw new AirlockError('BUNDLE_UNREADABLE', `${paths.join(', ')} is not the same bundle as ${opts.bundles[0]!}`, {
        hint: 'pass only volumes of one bundle; delete the serve cache directory if it was altered',
      });
    }
    const catalog = buildCatalog(reader, parseListen(opts.listen ?? DEFAULT_LISTEN).host, layout);
    const source = inPlace?.source ?? reader.source() as BundleContentSource;
    const content: ServeContent = {
      has: (d) => source.exists(d),
      fetch: (d, s) => source.fetch(d, s ? { signal: s } : {}),
      fetchRange: (d, a, b, s) => source.fetchRange(d, a, b, s ? { signal: s } : {}),
    };
    // Index the tar entries now, not on the first pull.
    for (const repo of catalog.repositories.values()) {
      const first = repo.blobs.values().next();
      if (!first.done) {
        await content.has(first.value);
        break;
      }
    }
    if (!isLoopback(listen.host)) {
      if (!auth) logger.warn(`listening on ${listen.host} with no authentication: anyone who can reach it can pull (--htpasswd FILE requires a password)`);
      if (!tls) logger.warn(`listening on ${listen.host} over plain HTTP: ${auth ? 'passwords and ' : ''}content travel unencrypted (--tls-cert and --tls-key serve HTTPS)`);
    }
    const server = await startRegistryServer(catalog, content, {
      host: listen.host, port: listen.port, logger, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
      ...(tls ? { tls } : {}), ...(auth ? { auth } : {}),
    });
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => (closing ??= (async () => {
      await server.close();
      await reader.close().catch(() => {});
      resolveClosed();
    })());
    signal?.addEventListener('abort', () => void close(), { once: true });
    if (signal?.aborted) void close();
    return {
      version: 1,
      url: server.url,
      bundleId: front.id,
      signature: status,
      repositories: [...catalog.repositories.values()].map((r) => ({ name: r.name, tags: [...r.tags.keys()].sort() })).sort((a, b) => a.name.localeCompare(b.name)),
      ...(unpacked.length > 0 ? { unpacked } : {}),
      closed,
      close,
    };
  } catch (err) {
    await reader.close().catch(() => {});
    throw err;
  }
}

/**
 * Repositories named as import names them (--layout), each with the tags, manifests and blobs
 * reachable from its artifacts, and its referrers (manifests whose `subject` names a manifest),
 * listed both by the referrers API and by the tag schema's `sha256-<hex>` fallback index.
 */
export function buildCatalog(reader: Pick<BundleReader, 'manifest' | 'metadata' | 'id'>, host: string, layout: RepositoryLayout): ServeCatalog {
  const plan = buildBundlePlan(reader.manifest, reader.metadata, reader.id);
  const mapped = mapArtifacts(plan.roots, parseTarget(host.includes(':') ? `[${host}]` : host, '--listen'), layout);
  const blobInfo = new Map(reader.manifest.blobs.map((b) => [b.digest, b]));
  type Building = { name: string; tags: Map<string, Descriptor>; manifests: Map<Digest, { desc: Descriptor; bytes: Buffer }>; blobs: Map<Digest, Descriptor>; referrers: Map<Digest, Descriptor[]> };
  const repos = new Map<string, Building>();
  for (const root of plan.roots) {
    if (root.kind === 'file') continue;
    const name = mapped.get(root.repository)!;
    let repo = repos.get(name);
    if (!repo) repos.set(name, (repo = { name, tags: new Map(), manifests: new Map(), blobs: new Map(), referrers: new Map() }));
    for (const d of plan.closureOf(root)) {
      const b = blobInfo.get(d);
      if (!b) continue;
      const desc: Descriptor = { mediaType: b.mediaType, digest: b.digest, size: b.size };
      const bytes = reader.metadata.get(d);
      const node = plan.copyPlan.nodes.get(d);
      if (bytes && (node?.kind === 'manifest' || node?.kind === 'index')) repo.manifests.set(d, { desc, bytes });
      else repo.blobs.set(d, desc);
    }
    if (root.tag !== undefined) repo.tags.set(root.tag, root.desc);
    const bytes = reader.metadata.get(root.desc.digest);
    if (root.kind === 'referrer' && bytes) {
      const m = parseManifest(bytes, root.desc.mediaType, `manifest ${root.desc.digest}`);
      if (m.subject) {
        const artifactType = m.artifactType ?? (m.kind === 'manifest' && isImageManifestMediaType(root.desc.mediaType) ? m.config.mediaType : undefined);
        const list = repo.referrers.get(m.subject.digest) ?? [];
        if (!list.some((x) => x.digest === root.desc.digest)) {
          list.push({ mediaType: root.desc.mediaType, digest: root.desc.digest, size: root.desc.size, ...(artifactType ? { artifactType } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) });
        }
        repo.referrers.set(m.subject.digest, list);
      }
    }
  }
  for (const repo of repos.values()) {
    for (const [subject, list] of repo.referrers) {
      const tag = referrersFallbackTag(subject);
      if (repo.tags.has(tag)) continue;
      const index = referrersIndex(list);
      repo.manifests.set(index.desc.digest, index);
      repo.tags.set(tag, index.desc);
    }
  }
  return { repositories: new Map<string, ServedRepository>(repos) };
}

/** A .tar.zst volume → `<cache>/<bundle id hex>/<name>.tar`, once: a later serve of the same bundle reuses it. */
async function unpackOnce(path: string, id: Digest, cacheDir: string, logger: Logger, signal?: AbortSignal): Promise<string> {
  const dir = join(cacheDir, hexOf(id));
  const name = basename(path).replace(/\.(tar\.zst|tzst|zst)$/i, '') + '.tar';
  const out = join(dir, name.endsWith('.tar.tar') ? name.slice(0, -4) : name);
  const existing = await stat(out).catch(() => undefined);
  if (existing?.isFile()) {
    const f = await readBundleFront(out).catch(() => undefined);
    if (f?.id === id) {
      logger.info(`using ${out}, unpacked earlier from ${path}`);
      return out;
    }
  }
  const size = (await stat(path)).size;
  logger.info(`${path} is compressed: unpacking it once (${formatBytes(size)} compressed) to ${out} so blobs can be read in place; later runs reuse it`);
  const tmp = `${out}.partial-${process.pid}`;
  try {
    await mkdir(dir, { recursive: true });
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), createZstdDecompressStream({ where: path }), createWriteStream(tmp, { mode: 0o644 }), signal ? { signal } : {});
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err instanceof AirlockError ? err : ioError(err, 'unpack to', tmp);
  }
  return out;
}

/** `--tls-cert` + `--tls-key`: both or neither, readable, and a key that belongs to the certificate. */
async function readServeTls(certPath: string | undefined, keyPath: string | undefined): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new AirlockError('USAGE', `${certPath === undefined ? '--tls-key' : '--tls-cert'} needs ${certPath === undefined ? '--tls-cert' : '--tls-key'}`, {
      hint: 'serve HTTPS with both: --tls-cert server.crt --tls-key server.key (PEM)',
    });
  }
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw ioError(err, `read the TLS ${what}`, path);
    }
  };
  const cert = await read(certPath, 'certificate');
  const key = await read(keyPath, 'key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new AirlockError('USAGE', `--tls-cert and --tls-key do not make a usable pair: ${(err as Error).message}`, {
      cause: err, where: `${certPath}, ${keyPath}`, hint: 'pass the PEM certificate (chain) and the unencrypted PEM private key that belongs to it',
    });
  }
  return { cert, key };
}
