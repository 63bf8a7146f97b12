import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { createDispatcher, proxyConfigured } from './proxy.js';
import { wireGet, type WireResponse } from './wire-get.js';
import { AirlockError, abortError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { registryApiHost } from '../reference/index.js';
import { redactUrl } from '../util/index.js';
import { Authenticator, basicHeader, parseTokenResponse, type TokenRequest, type TokenResponse } from './auth.js';
import { certDirContext, findDefaultCertDir, loadCertDir } from './cert-dir.js';
import { resolveCredentials, type Credentials } from './credentials.js';
import {
  RegistryError, errCode, isRetryableStatus, isTlsFailure, registryErrorFrom, transportErrorFrom, type RegistrySide,
} from './errors.js';
import { HEADER_LOCATION, HEADER_RETRY_AFTER, HEADER_WWW_AUTHENTICATE, MAX_ERROR_BODY_BYTES, MAX_TOKEN_BODY_BYTES } from './headers.js';
import { DEFAULT_RETRY_POLICY, IDEMPOTENT_METHODS, retryDelay, sleep, type RetryPolicy } from './retry.js';
import type { AuthScheme, RegistryClientOptions, RegistryHostConfig, RequestInfo } from './types.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/**
 * A body that can be sent again (a Buffer, or chunks held in memory, sent one after the other
 * rather than copied into one buffer) or once (a stream of known length).
 */
export type RequestBody =
  | Buffer
  | { readonly chunks: readonly Buffer[]; readonly length: number }
  | { readonly stream: Readable | AsyncIterable<Buffer>; readonly length: number };

export type ResponseBody = Dispatcher.ResponseData['body'];

export interface TransportRequest {
  readonly method: HttpMethod;
  /** `/v2/...` relative to the registry, or an absolute URL (an upload's Location). */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody;
  /** Token scopes the request needs. */
  readonly scopes: readonly string[];
  /** Statuses handed back to the caller; anything else becomes a RegistryError. */
  readonly ok: readonly number[];
  /** Retry on connection errors and retryable statuses. Default: idempotent method with a replayable body. */
  readonly retry?: boolean;
  /** `registry/repository` for messages. */
  readonly where: string;
  /** The repository path the request is about, if any: carried on its errors (RegistryError.repository). */
  readonly repository?: string;
  /** What the request is about, for messages ("manifest v1", "blob sha256:…"). */
  readonly what?: string;
  /** A write: changes how 403 and DIGEST_INVALID read. */
  readonly push?: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Larger stream buffers for blob downloads. */
  readonly highWaterMark?: number;
  /**
   * A large blob download: over plain HTTP (no proxy), read it on a connection of its own into
   * pooled receive buffers (wire-get.ts) when the answer is a plain 200/206; anything else is
   * asked again through undici. Its body's chunks may be handed back with releaseReceived.
   */
  readonly wire?: boolean;
  /**
   * `registry` (default): the registry's own scheme (Basic or bearer tokens, learnt from its
   * challenges). `basic`: the credentials as Basic auth and no challenge handling, for a product's
   * own API beside the registry (Harbor's /api/v2.0 takes Basic auth, not registry tokens).
   * `none`: no credentials at all (an unauthenticated probe of such an API).
   */
  readonly auth?: 'registry' | 'basic' | 'none';
}

export interface TransportResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: ResponseBody;
  /** The URL that answered (after redirects). */
  readonly url: string;
}

const MAX_REDIRECTS = 5;
const MAX_AUTH_ROUNDS = 2;

export function header(res: Pick<TransportResponse, 'headers'>, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * One registry host: its connection pool (an undici Agent: one Pool per origin, keep-alive), the
 * scheme, TLS material, credentials and the authenticator. Every request goes through `request`,
 * which adds auth, retries, follows redirects without leaking Authorization, and maps failures.
 */
export class Transport {
  readonly registry: string;
  readonly apiHost: string;
  readonly config: RegistryHostConfig;
  readonly #opts: RegistryClientOptions;
  readonly #logger: Logger;
  readonly #policy: RetryPolicy;
  readonly #auth: Authenticator;
  #agent: Promise<Dispatcher> | undefined;
  #hasClientCert = false;
  /** Decided scheme; undefined while skip-verify has not yet seen whether TLS works. */
  #scheme: 'https' | 'http' | undefined;
  #connected = false;
  /**
   * Settled when the request asking over HTTPS and plain HTTP at once (#exchangeEitherScheme) has
   * its answer; undefined when none is. Requests that start meanwhile wait for it and go out over
   * the scheme it found, instead of each trying TLS first (seen: nine failed TLS attempts at the
   * start of a loaded no-op re-import).
   */
  #settling: Promise<void> | undefined;
  /** By repository ('' for the registry as a whole): authfile keys may be scoped to a namespace. */
  readonly #credentials = new Map<string, Promise<Credentials | undefined>>();
  #closed = false;
  /**
   * HEADs keep their connection (undici's `reset: false`). undici closes the connection after every
   * HEAD by default, for servers that wrongly send a body with one: against Distribution each
   * existence check then cost a new TCP (and TLS) connection (docs/BENCHMARKS.md, 2026-12-07).
   * Registries answer HEAD correctly; should one not, the stray body reaches the parser as a
   * malformed next answer (an `HPE_*` error): from then on HEADs close their connection again, and
   * the failed request is retried like any other transport error.
   */
  #headKeepAlive = true;

  constructor(registry: string, config: RegistryHostConfig, opts: RegistryClientOptions = {}) {
    this.registry = registry;
    this.apiHost = registryApiHost(registry);
    this.config = config;
    this.#opts = opts;
    this.#logger = opts.logger ?? NOOP_LOGGER;
    this.#policy = {
      retries: opts.retries ?? DEFAULT_RETRY_POLICY.retries,
      baseDelayMs: opts.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
      maxDelayMs: opts.retryMaxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
    };
    this.#scheme = config.tls === 'plain-http' ? 'http' : config.tls === 'verify' ? 'https' : undefined;
    this.#auth = new Authenticator((scopes) => this.credentials(repositoryOfScopes(scopes)), (req) => this.#fetchToken(req));
  }

  get side(): RegistrySide | undefined {
    return this.#opts.side;
  }

  get retries(): number {
    return this.#policy.retries;
  }

  get authScheme(): AuthScheme | undefined {
    return this.#auth.scheme;
  }

  get scheme(): 'https' | 'http' {
    return this.#scheme ?? 'https';
  }

  /** The scheme settled on: fixed by the config, or (skip-verify) learnt from the first answer; undefined before it. */
  get settledScheme(): 'https' | 'http' | undefined {
    return this.#scheme;
  }

  get baseUrl(): string {
    return `${this.scheme}://${this.apiHost}`;
  }

  /** Credentials for the registry, or for one repository of it (namespace-scoped authfile keys). */
  credentials(repository?: string): Promise<Credentials | undefined> {
    const key = repository ?? '';
    let c = this.#credentials.get(key);
    if (!c) {
      c = resolveCredentials(this.registry, this.config, {
        ...(this.#opts.env ? { env: this.#opts.env } : {}),
        ...(this.#opts.fallbackAuthfile ? { fallbackAuthfile: this.#opts.fallbackAuthfile } : {}),
        ...(this.#opts.fallbackCredentials ? { fallbackCredentials: this.#opts.fallbackCredentials } : {}),
        ...(repository !== undefined ? { repository } : {}),
      });
      this.#credentials.set(key, c);
    }
    return c;
  }

  markAnonymous(): void {
    this.#auth.markAnonymous();
  }

  delayFor(attempt: number, retryAfter?: string): number {
    return retryDelay(this.#policy, attempt, retryAfter);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const a = this.#agent;
    this.#agent = undefined;
    if (a) await (await a).close().catch(() => {});
  }

  #createAgent(): Promise<Dispatcher> {
    this.#agent ??= (async () => {
      // No cert dir given: the one podman and skopeo would use for this host, if there is one.
      const certDir = this.config.certDir ?? (await findDefaultCertDir(this.registry, this.#opts.env ?? process.env));
      if (certDir && !this.config.certDir) this.#logger.debug(`${this.registry}: certificates from ${certDir}`);
      const dir = certDir ? await loadCertDir(certDir) : undefined;
      this.#hasClientCert = Boolean(dir?.cert);
      const secureContext = dir ? certDirContext(dir, certDir) : undefined;
      const timeout = this.#opts.timeoutMs ?? 120_000;
      return createDispatcher({
        connections: this.#opts.connections ?? 16,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        connect: {
          ...(secureContext ? { secureContext } : {}),
          rejectUnauthorized: this.config.tls === 'verify',
        },
      }, this.#opts.proxy === 'env');
    })();
    return this.#agent;
  }

  /** Resolve a request URL against the registry. */
  resolveUrl(url: string): URL {
    return new URL(url, this.baseUrl);
  }

  #sameOrigin(u: URL): boolean {
    return u.host === this.apiHost && u.protocol === `${this.scheme}:`;
  }

  async #exchange(
    u: URL,
    method: HttpMethod,
    headers: Record<string, string>,
    body: RequestBody | undefined,
    signal: AbortSignal | undefined,
    highWaterMark: number | undefined,
    wire?: readonly number[],
    /** The answer does not settle the scheme (#exchangeEitherScheme's plain-HTTP half). */
    speculative = false,
  ): Promise<TransportResponse> {
    if (this.#closed) throw new AirlockError('INTERNAL', `registry client for ${this.registry} used after close()`);
    const agent = await this.#createAgent();
    if (wire && method === 'GET' && body === undefined && u.protocol === 'http:' && !(this.#opts.proxy === 'env' && proxyConfigured())) {
      let w: WireResponse | undefined;
      try {
        w = await wireGet(u, headers, { signal, timeoutMs: this.#opts.timeoutMs ?? 120_000, ...(highWaterMark ? { highWaterMark } : {}) });
      } catch (err) {
        this.#report({ method, url: redactUrl(u) });
        throw err;
      }
      if (w && wire.includes(w.status)) {
        this.#connected = true;
        this.#report({ method, url: redactUrl(u), status: w.status });
        const wb = w.body;
        const dump = async (): Promise<null> => {
          wb.destroy();
          return null;
        };
        return { status: w.status, headers: w.headers, body: Object.assign(wb, { dump }) as unknown as ResponseBody, url: u.toString() };
      }
      w?.body.destroy();
    }
    const bytes = body === undefined ? 0 : Buffer.isBuffer(body) ? body.length : body.length;
    const h: Record<string, string> = { ...headers };
    if (body !== undefined || method === 'PUT' || method === 'POST' || method === 'PATCH') h['content-length'] = String(bytes);
    let res: Dispatcher.ResponseData;
    try {
      res = await agent.request({
        origin: u.origin,
        path: `${u.pathname}${u.search}`,
        method,
        headers: h,
        // undici sends an async iterable too (its writeIterable), though its types name only Readable.
        body: body === undefined ? null : Buffer.isBuffer(body) ? body : 'chunks' in body ? body.chunks as unknown as Readable : body.stream as Readable,
        ...(signal ? { signal } : {}),
        ...(method === 'HEAD' && this.#headKeepAlive ? { reset: false } : {}),
        highWaterMark: highWaterMark ?? 1 << 16,
      });
    } catch (err) {
      if (this.#headKeepAlive && errCode(err)?.startsWith('HPE_')) {
        this.#headKeepAlive = false;
        this.#logger.debug(`${this.registry}: malformed answer (${errCode(err)}); HEAD requests close their connection from now on`);
      }
      this.#report({ method, url: redactUrl(u), ...(bytes ? { bytesSent: bytes } : {}) });
      throw err;
    }
    this.#connected = true;
    if (this.#scheme === undefined && !speculative) this.#scheme = u.protocol === 'http:' ? 'http' : 'https';
    this.#report({ method, url: redactUrl(u), status: res.statusCode, ...(bytes ? { bytesSent: bytes } : {}) });
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: res.body, url: u.toString() };
  }

  /**
   * skip-verify, scheme not yet known: the first GET or HEAD asks over HTTPS and plain HTTP at once
   * instead of one after the other (skopeo's order, without the wait: the TLS attempt's failure
   * against a plain-HTTP registry took a round trip and a TLS setup before HTTP was even asked).
   * HTTPS is still preferred: whatever plain HTTP answers is used only once HTTPS has failed
   * with something other than a refused connection (the same failures the sequential fallback in
   * `request` acts on); when HTTPS answers, the plain-HTTP answer is dropped. A host with TLS
   * verification on never gets here (its scheme is https from the start), nor a request that
   * carries credentials (they would go out in clear before HTTPS had its chance; the first
   * request, the API root's GET, carries none: auth is learnt from its challenge).
   */
  async #exchangeEitherScheme(u: URL, method: HttpMethod, headers: Record<string, string>, signal: AbortSignal | undefined, highWaterMark: number | undefined): Promise<TransportResponse> {
    const plain = new URL(u);
    plain.protocol = 'http:';
    const drop = new AbortController();
    const plainTry = this.#exchange(plain, method, headers, undefined, signal ? AbortSignal.any([signal, drop.signal]) : drop.signal, highWaterMark, undefined, true);
    plainTry.catch(() => {});
    let tlsErr: unknown;
    try {
      const res = await this.#exchange(u, method, headers, undefined, signal, highWaterMark);
      drop.abort();
      void plainTry.then((r) => r.body.dump(), () => {}).catch(() => {});
      return res;
    } catch (err) {
      tlsErr = err;
    }
    if (signal?.aborted || isRefused(tlsErr) || this.#scheme !== undefined) {
      drop.abort();
      throw tlsErr;
    }
    let res: TransportResponse;
    try {
      res = await plainTry;
    } catch {
      throw tlsErr; // neither answered: request() falls back to plain HTTP as before, and reports that
    }
    this.#logger.debug(`${this.apiHost} does not answer TLS (${errCode(tlsErr)}); plain HTTP, asked at the same time, did`);
    this.#scheme = 'http';
    return res;
  }

  #report(info: RequestInfo): void {
    this.#logger.debug(`${info.method} ${info.url}${info.status !== undefined ? ` → ${info.status}` : ' → no response'}`);
    this.#opts.onRequest?.(info);
  }

  /**
   * Send a request: auth from what has been learnt (and from a 401's challenge), redirects for
   * GET/HEAD (Authorization only to the registry's own origin), retries with backoff for
   * idempotent requests, and coded errors for everything else.
   */
  async request(req: TransportRequest): Promise<TransportResponse> {
    const replayable = req.body === undefined || Buffer.isBuffer(req.body) || 'chunks' in req.body;
    const canRetry = (req.retry ?? IDEMPOTENT_METHODS.has(req.method)) && replayable;
    let attempt = 0;
    let authRounds = 0;
    for (;;) {
      if (req.signal?.aborted) throw abortError(req.signal);
      while (this.#scheme === undefined && this.#settling && !req.signal?.aborted) await settledOrAborted(this.#settling, req.signal);
      if (req.signal?.aborted) throw abortError(req.signal);
      const u = this.resolveUrl(req.url);
      let sentAuth: string | undefined;
      try {
        let target = u;
        sentAuth = !this.#sameOrigin(u) || req.auth === 'none' ? undefined : req.auth === 'basic' ? await this.#basic() : await this.#auth.authorization(req.scopes);
        const headers: Record<string, string> = { ...req.headers, ...(sentAuth ? { authorization: sentAuth } : {}) };
        // Never with credentials: they would go out in clear before HTTPS had its chance.
        const race = this.config.tls === 'skip-verify' && this.#scheme === undefined && !this.#connected && !this.#settling && sentAuth === undefined &&
          u.protocol === 'https:' && u.host === this.apiHost && (req.method === 'GET' || req.method === 'HEAD') && req.body === undefined && !req.wire;
        let res: TransportResponse;
        if (race) {
          const either = this.#exchangeEitherScheme(target, req.method, headers, req.signal, req.highWaterMark);
          const settling = either.then(() => undefined, () => undefined);
          this.#settling = settling;
          try {
            res = await either;
          } finally {
            if (this.#settling === settling) this.#settling = undefined;
          }
        } else {
          res = await this.#exchange(target, req.method, headers, req.body, req.signal, req.highWaterMark, req.wire ? req.ok : undefined);
        }
        // Redirects: storage backends (S3, GCS, a CDN) answer blob GETs with 307 to a signed URL.
        // Authorization goes only to the registry's own origin (spec "Pulling Blobs" allows the
        // redirect; credentials must not follow it to another host).
        let hops = 0;
        while ((req.method === 'GET' || req.method === 'HEAD') && [301, 302, 303, 307, 308].includes(res.status) && hops < MAX_REDIRECTS) {
          const loc = header(res, HEADER_LOCATION);
          if (!loc) break;
          await res.body.dump().catch(() => {});
          target = new URL(loc, target);
          if (target.protocol !== 'https:' && target.protocol !== 'http:') break;
          const h: Record<string, string> = { ...req.headers };
          if (this.#sameOrigin(target) && sentAuth) h.authorization = sentAuth;
          res = await this.#exchange(target, req.method, h, undefined, req.signal, req.highWaterMark);
          hops++;
        }
        if (res.status === 401 && (req.auth ?? 'registry') === 'registry' && authRounds < MAX_AUTH_ROUNDS && this.#sameOrigin(new URL(res.url))) {
          const challenge = header(res, HEADER_WWW_AUTHENTICATE);
          await res.body.dump().catch(() => {});
          authRounds++;
          if (replayable && (await this.#auth.onChallenge(challenge, req.scopes, sentAuth))) continue;
          if (!replayable && (await this.#auth.onChallenge(challenge, req.scopes, sentAuth))) {
            throw new RegistryError('AUTH', `${req.where}: the registry asked for new credentials in the middle of a streamed upload`, {
              method: req.method, url: u.toString(), status: 401, where: req.where, registry: this.registry, repository: req.repository, retryable: true,
              hint: 'retry the operation; the new token is cached now',
            });
          }
          throw await this.#statusError(req, res, sentAuth, new Uint8Array());
        }
        if (req.ok.includes(res.status)) return res;
        if (canRetry && isRetryableStatus(res.status) && attempt < this.#policy.retries) {
          const wait = this.delayFor(attempt, header(res, HEADER_RETRY_AFTER));
          await res.body.dump().catch(() => {});
          this.#logger.debug(`retrying ${req.method} ${redactUrl(u)} after HTTP ${res.status} in ${wait} ms`);
          attempt++;
          await sleep(wait, req.signal).catch(() => {
            throw abortError(req.signal!);
          });
          continue;
        }
        throw await this.#statusError(req, res, sentAuth);
      } catch (err) {
        if (req.signal?.aborted) throw abortError(req.signal);
        if (err instanceof RegistryError || (isAirlockError(err) && !(err instanceof RegistryError))) {
          // Our own coded errors (and a source stream's DigestMismatch) pass through unchanged.
          throw err;
        }
        // skip-verify: a host that does not speak TLS is tried over plain HTTP (skopeo's --tls-verify=false).
        // A request sent over https before a concurrent one settled on plain HTTP is retried too.
        const fellBack = (this.#scheme === 'http' && this.resolveUrl(req.url).protocol === 'http:') || (!this.#connected && this.#scheme === undefined);
        if (this.config.tls === 'skip-verify' && fellBack && u.protocol === 'https:' && !isRefused(err)) {
          this.#logger.debug(`${this.apiHost} does not answer TLS (${errCode(err)}); trying plain HTTP`);
          this.#scheme = 'http';
          continue;
        }
        const mapped = transportErrorFrom(err, {
          method: req.method, url: u.toString(), where: req.where, registry: this.registry, repository: req.repository, side: this.#opts.side, https: u.protocol === 'https:',
          hasClientCert: this.#hasClientCert, neverConnected: !this.#connected, attempts: attempt + 1,
        });
        if (canRetry && mapped.retryable && !isTlsFailure(err) && attempt < this.#policy.retries) {
          const wait = this.delayFor(attempt);
          this.#logger.debug(`retrying ${req.method} ${redactUrl(u)} after ${errCode(err)} in ${wait} ms`);
          attempt++;
          await sleep(wait, req.signal).catch(() => {
            throw abortError(req.signal!);
          });
          continue;
        }
        throw mapped;
      }
    }
  }

  /** Basic auth from the credentials; none for an identity (refresh) token, which only a token realm takes. */
  async #basic(): Promise<string | undefined> {
    const c = await this.credentials();
    return c && !c.identityToken ? basicHeader(c) : undefined;
  }

  async #statusError(req: TransportRequest, res: TransportResponse, sentAuth: string | undefined, preread?: Uint8Array): Promise<RegistryError> {
    const body = preread ?? (req.method === 'HEAD' ? new Uint8Array() : await readBodyCapped(res.body, MAX_ERROR_BODY_BYTES).catch(() => new Uint8Array()));
    const creds = await this.credentials(repositoryOfScopes(req.scopes)).catch(() => undefined);
    return registryErrorFrom({
      method: req.method, url: res.url, status: res.status, body, where: req.where, registry: this.registry, repository: req.repository, side: this.#opts.side,
      hadCredentials: sentAuth !== undefined && creds !== undefined, credentialsSource: creds?.source,
      what: req.what, push: req.push ?? false,
    });
  }

  /** Token endpoint call (token spec "Requesting a Token"; OAuth2 refresh_token grant for identity tokens). */
  async #fetchToken(t: TokenRequest): Promise<TokenResponse> {
    const realm = new URL(t.realm);
    const c = t.credentials;
    // Never send a password to a plain-HTTP realm unless the registry itself is plain HTTP.
    const mayUseCreds = c !== undefined && (realm.protocol === 'https:' || this.scheme === 'http');
    let res: TransportResponse;
    const where = this.registry;
    const common = { where, what: 'a token', signal: undefined, scopes: [] as string[] };
    if (mayUseCreds && c.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'airlock', ...(t.service ? { service: t.service } : {}) });
      if (t.scopes.length) form.set('scope', t.scopes.join(' '));
      res = await this.#tokenRequest(realm, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()), common);
    } else {
      for (const [k, v] of Object.entries(t.service ? { service: t.service } : {})) realm.searchParams.set(k, v);
      for (const s of t.scopes) realm.searchParams.append('scope', s);
      res = await this.#tokenRequest(realm, 'GET', mayUseCreds ? { authorization: basicHeader(c) } : {}, undefined, common);
    }
    const body = await readBodyCapped(res.body, MAX_TOKEN_BODY_BYTES);
    if (res.status !== 200) {
      throw registryErrorFrom({
        method: mayUseCreds && c.identityToken ? 'POST' : 'GET', url: res.url, status: res.status === 403 ? 403 : res.status === 401 ? 401 : res.status,
        body, where, registry: this.registry, side: this.#opts.side, hadCredentials: mayUseCreds, credentialsSource: c?.source, what: 'a token',
      });
    }
    const parsed = parseTokenResponse(body);
    if (!parsed) {
      throw new RegistryError('AUTH', `the token service of ${this.registry} (${redactUrl(realm.origin)}) answered without a token`, {
        method: 'GET', url: realm.origin, status: res.status, where, registry: this.registry, hint: 'the token service is misconfigured; contact the registry operator',
      });
    }
    return parsed;
  }

  async #tokenRequest(
    realm: URL, method: HttpMethod, headers: Record<string, string>, body: Buffer | undefined,
    ctx: { where: string; what: string },
  ): Promise<TransportResponse> {
    let attempt = 0;
    for (;;) {
      try {
        const res = await this.#exchange(realm, method, headers, body, undefined, undefined);
        if (isRetryableStatus(res.status) && attempt < this.#policy.retries) {
          await res.body.dump().catch(() => {});
          await sleep(this.delayFor(attempt++, header(res, HEADER_RETRY_AFTER)));
          continue;
        }
        return res;
      } catch (err) {
        const mapped = transportErrorFrom(err, {
          method, url: realm.toString(), where: ctx.where, registry: this.registry, side: this.#opts.side, https: realm.protocol === 'https:',
          hasClientCert: this.#hasClientCert, neverConnected: false, attempts: attempt + 1,
        });
        if (mapped.retryable && attempt < this.#policy.retries) {
          await sleep(this.delayFor(attempt++));
          continue;
        }
        throw mapped;
      }
    }
  }
}

/** `p` settled, or `signal` aborted (whichever comes first; the listener is removed either way). */
function settledOrAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void p.then(done);
  });
}

function isRefused(err: unknown): boolean {
  const c = errCode(err);
  return c === 'ECONNREFUSED' || c === 'ENOTFOUND' || c === 'EAI_AGAIN';
}

/** Read at most `max` bytes of a response body; the rest is discarded. */
export async function readBodyCapped(body: ResponseBody, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    if (n + c.length > max) {
      chunks.push(c.subarray(0, max - n));
      n = max;
      body.destroy();
      break;
    }
    chunks.push(c);
    n += c.length;
  }
  return Buffer.concat(chunks, n);
}

/** Read a body that must fit in `max` bytes, failing (not truncating) past it. */
export async function readBodyStrict(body: ResponseBody, max: number, what: string, where: string, code: 'SIZE_MISMATCH' | 'MANIFEST_INVALID' = 'SIZE_MISMATCH'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) {
        body.destroy();
        throw new AirlockError(code, `${what} from ${where} is larger than ${max} bytes`, {
          where,
          hint: 'the registry sent more than any valid answer holds; it may be misbehaving or hostile',
        });
      }
      chunks.push(c);
    }
  } catch (err) {
    if (isAirlockError(err)) throw err;
    // The connection broke after the headers (reset, truncation, a short Content-Length): a coded,
    // retryable network error rather than undici's bare "other side closed".
    throw new RegistryError('NETWORK', `${what} from ${where}: the connection broke after ${n} bytes (${errCode(err) ?? 'closed'})`, {
      method: 'GET', url: '', where, cause: err, retryable: true,
      hint: 'the network or the registry dropped the answer; re-run the command',
    });
  }
  return Buffer.concat(chunks, n);
}

/** The repository a request is for, from its first `repository:NAME:ACTIONS` scope (token spec scope grammar). */
function repositoryOfScopes(scopes: readonly string[]): string | undefined {
  for (const s of scopes) {
    const m = /^repository:(.+):[^:]+$/.exec(s);
    if (m) return m[1];
  }
  return undefined;
}
