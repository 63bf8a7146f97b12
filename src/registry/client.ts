import type { CallOptions } from '../content/index.js';
import { AirlockError } from '../errors.js';
import { isValidRepositoryPath, normaliseRegistry } from '../reference/index.js';
import type { Descriptor } from '../oci/index.js';
import { ByteSemaphore } from '../util/index.js';
import { RegistryError } from './errors.js';
import { HEADER_LINK, MAX_LIST_BODY_BYTES } from './headers.js';
import { parseLinkNext } from './link.js';
import { HarborApi } from './harbor.js';
import { probeRegistry } from './probe.js';
import type { ReferrersAttempt, RegistryHost } from './host.js';
import { RegistryRepositoryImpl } from './repository.js';
import { Transport, header, readBodyStrict } from './transport.js';
import type { AuthScheme, HarborProjects, ProbeResult, RegistryClient, RegistryClientOptions, RegistryHostConfig, RegistryRepository } from './types.js';

const DEFAULT_MONOLITHIC_MAX = 16 * 1024 * 1024;
/** Blobs of monolithicMax bytes the uploads of one client hold in memory at once, at most. */
const HELD_BLOBS = 2;
/** Manifests remembered for tag(): small, bounded. */
const MANIFEST_CACHE_ENTRIES = 512;
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;
/** Distribution refuses `_catalog?n=` above 1000 with HTTP 400 (docs/ARCHITECTURE.md "Distribution"). */
const CATALOG_PAGE = 1000;

export function createRegistryClient(registry: string, config: RegistryHostConfig, opts: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClientImpl(registry, config, opts);
}

export class RegistryClientImpl implements RegistryClient, RegistryHost {
  readonly registry: string;
  readonly transport: Transport;
  readonly chunkSize: number;
  readonly monolithicMax: number;
  readonly held: ByteSemaphore;
  readonly harbor: HarborProjects;
  readonly #manifests = new Map<string, Buffer>();
  #manifestBytes = 0;
  readonly #locks = new Map<string, Promise<void>>();
  /** Referrers API: undefined until the first answer decides it (once per client). */
  #referrersApi: boolean | undefined;
  #deciding: Promise<void> | undefined;

  constructor(registry: string, config: RegistryHostConfig, opts: RegistryClientOptions = {}) {
    this.registry = normaliseRegistry(registry);
    this.transport = new Transport(this.registry, config, opts);
    // No chunkSize: large blobs go in one streamed PUT (upload.ts uploadStreamed).
    this.chunkSize = opts.chunkSize === undefined || opts.chunkSize <= 0 ? 0 : Math.max(64 * 1024, opts.chunkSize);
    this.monolithicMax = Math.max(0, opts.monolithicMax ?? DEFAULT_MONOLITHIC_MAX);
    // A blob sent whole is read into memory first, and held until the registry answers 201: at
    // --concurrency 8 that could be 8 × 16 MiB. Two blobs' worth at once bounds it whatever the
    // concurrency (smaller blobs share the budget; a larger stream needs none).
    this.held = new ByteSemaphore(HELD_BLOBS * this.monolithicMax);
    this.harbor = new HarborApi(this.transport);
  }

  get authScheme(): AuthScheme | undefined {
    return this.transport.authScheme;
  }

  get scheme(): 'https' | 'http' | undefined {
    return this.transport.settledScheme;
  }

  repository(name: string): RegistryRepository {
    if (!isValidRepositoryPath(name)) {
      throw new AirlockError('REFERENCE_INVALID', `invalid repository name "${name}" for ${this.registry}`, {
        hint: 'repository names are lowercase path components: letters, digits, . _ - separated by /',
      });
    }
    return new RegistryRepositoryImpl(this, name);
  }

  async ping(opts: CallOptions = {}): Promise<void> {
    const res = await this.transport.request({ method: 'GET', url: '/v2/', scopes: [], ok: [200], where: this.registry, what: 'the API root', signal: opts.signal });
    await res.body.dump().catch(() => {});
    if (this.transport.authScheme === undefined) this.transport.markAnonymous();
  }

  async probe(repository: string, opts: CallOptions = {}): Promise<ProbeResult> {
    return probeRegistry(this, repository, opts);
  }

  async catalog(opts: CallOptions = {}): Promise<string[]> {
    const out: string[] = [];
    let url: string | undefined = `/v2/_catalog?n=${CATALOG_PAGE}`;
    for (let i = 0; url && i < 100_000; i++) {
      const res: Awaited<ReturnType<Transport['request']>> = await this.transport.request({
        method: 'GET', url, scopes: ['registry:catalog:*'], ok: [200], where: this.registry, what: 'the catalog', signal: opts.signal,
      });
      const body = await readBodyStrict(res.body, MAX_LIST_BODY_BYTES, 'the catalog', this.registry);
      let names: unknown;
      try {
        names = (JSON.parse(body.toString('utf8')) as { repositories?: unknown }).repositories;
      } catch (err) {
        throw new AirlockError('REGISTRY', `${this.registry} sent a catalog that is not JSON`, { cause: err, where: this.registry });
      }
      const page = Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
      out.push(...page);
      url = parseLinkNext(header(res, HEADER_LINK), res.url);
      // Some registries cut pages without a Link header: ask for the next page with last= ourselves.
      if (!url && page.length === CATALOG_PAGE) url = `/v2/_catalog?n=${CATALOG_PAGE}&last=${encodeURIComponent(page[page.length - 1]!)}`;
    }
    return out;
  }

  async supportsReferrersApi(repository: string, opts: CallOptions = {}): Promise<boolean> {
    if (this.#referrersApi !== undefined) return this.#referrersApi;
    // Any digest does: a registry with the API answers 200 with an empty index for unknown subjects.
    const probeDesc: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}` as Descriptor['digest'], size: 0 };
    await this.repository(repository).referrers(probeDesc, opts);
    return this.#referrersApi ?? false;
  }

  /** Run a referrers API attempt, deciding API-or-fallback once per client. Undefined → use the tag fallback. */
  async decideReferrers(attempt: () => Promise<ReferrersAttempt>): Promise<Descriptor[] | undefined> {
    for (;;) {
      if (this.#referrersApi === false) return undefined;
      if (this.#referrersApi === true) {
        const r = await attempt();
        return r.kind === 'unsupported' ? [] : r.descs;
      }
      if (!this.#deciding) break;
      await this.#deciding;
    }
    let done!: () => void;
    this.#deciding = new Promise<void>((r) => (done = r));
    try {
      const r = await attempt();
      if (r.kind === 'api') this.#referrersApi = true;
      if (r.kind === 'unsupported') this.#referrersApi = false;
      return r.kind === 'unsupported' ? undefined : r.descs;
    } finally {
      this.#deciding = undefined;
      done();
    }
  }

  setReferrersApi(value: boolean): void {
    this.#referrersApi = value;
  }

  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  rememberManifest(digest: string, bytes: Buffer): void {
    if (bytes.length > MANIFEST_CACHE_BYTES / 4 || this.#manifests.has(digest)) return;
    this.#manifests.set(digest, bytes);
    this.#manifestBytes += bytes.length;
    while (this.#manifests.size > MANIFEST_CACHE_ENTRIES || this.#manifestBytes > MANIFEST_CACHE_BYTES) {
      const [k, v] = this.#manifests.entries().next().value as [string, Buffer];
      this.#manifests.delete(k);
      this.#manifestBytes -= v.length;
    }
  }

  recallManifest(digest: string): Buffer | undefined {
    return this.#manifests.get(digest);
  }

  /** Serialise read-modify-write sequences (the referrers fallback index) within this process. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    this.#locks.set(key, chained);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(key) === chained) this.#locks.delete(key);
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

export { RegistryError };
