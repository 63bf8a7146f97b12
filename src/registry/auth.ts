import { AirlockError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { parseWwwAuthenticate, pickChallenge } from './www-authenticate.js';
import type { AuthScheme } from './types.js';

/**
 * The Docker token flow (https://distribution.github.io/distribution/spec/auth/token/) and Basic
 * auth, learnt from the registry's challenges. Tokens are cached per scope set until shortly before
 * they expire; a 401 with a token drops it and fetches a new one once.
 */
export interface TokenRequest {
  readonly realm: string;
  readonly service: string | undefined;
  readonly scopes: readonly string[];
  readonly credentials: Credentials | undefined;
}

export interface TokenResponse {
  readonly token: string;
  /** Seconds. */
  readonly expiresIn: number;
}

/** Fetches a token from the realm (implemented by the transport, which owns the connections). */
export type TokenFetcher = (req: TokenRequest) => Promise<TokenResponse>;

/** Tokens are refreshed this long before they expire. */
const EXPIRY_MARGIN_MS = 5_000;
/** The token spec's default lifetime when `expires_in` is missing. */
const DEFAULT_EXPIRES_IN_S = 60;
const MAX_CACHED_TOKENS = 256;

export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/** `repository:NAME:ACTIONS` (https://distribution.github.io/distribution/spec/auth/scope/). */
export function repositoryScope(name: string, actions: 'pull' | 'pull,push' | 'delete' | '*'): string {
  return `repository:${name}:${actions}`;
}

export class Authenticator {
  #scheme: AuthScheme | undefined;
  #realm: string | undefined;
  #service: string | undefined;
  readonly #tokens = new Map<string, { token: string; expiresAt: number }>();
  readonly #inflight = new Map<string, Promise<string>>();
  /** By the request's scopes: credentials may be scoped to a repository namespace. */
  readonly #credentials: (scopes: readonly string[]) => Promise<Credentials | undefined>;
  readonly #fetchToken: TokenFetcher;
  readonly #now: () => number;

  constructor(credentials: (scopes: readonly string[]) => Promise<Credentials | undefined>, fetchToken: TokenFetcher, now: () => number = Date.now) {
    this.#credentials = credentials;
    this.#fetchToken = fetchToken;
    this.#now = now;
  }

  get scheme(): AuthScheme | undefined {
    return this.#scheme;
  }

  /** Learnt from a 2xx on /v2/ without credentials. */
  markAnonymous(): void {
    if (this.#scheme === undefined) this.#scheme = 'none';
  }

  /** The Authorization header for a request needing `scopes`, from what has been learnt so far. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.#scheme === 'basic') {
      const c = await this.#credentials(scopes);
      return c ? basicHeader(c) : undefined;
    }
    if (this.#scheme === 'bearer') return `Bearer ${await this.#token(scopes)}`;
    return undefined;
  }

  /**
   * React to a 401. Returns true when a retry with new authorization makes sense, false when the
   * request must fail (no credentials for Basic, or the same credentials were already rejected).
   */
  async onChallenge(header: string | undefined, scopes: readonly string[], sent: string | undefined): Promise<boolean> {
    const challenge = pickChallenge(parseWwwAuthenticate(header ?? ''));
    if (!challenge) return false;
    if (challenge.scheme === 'basic') {
      const c = await this.#credentials(scopes);
      if (!c) {
        this.#scheme = 'basic';
        return false;
      }
      const again = this.#scheme !== 'basic' || sent === undefined;
      this.#scheme = 'basic';
      return again;
    }
    const realm = challenge.params.realm;
    if (!realm) return false;
    this.#scheme = 'bearer';
    this.#realm = realm;
    this.#service = challenge.params.service;
    const wanted = challenge.params.scope ? [...scopes, ...challenge.params.scope.split(' ')] : scopes;
    const key = scopeKey(wanted);
    const cached = this.#tokens.get(key);
    // A token we sent was refused (expired early, revoked): drop it and ask again, once.
    if (cached && sent === `Bearer ${cached.token}`) this.#tokens.delete(key);
    const fresh = await this.#token(wanted);
    if (sent === `Bearer ${fresh}`) return false;
    if (wanted.length !== scopes.length) {
      // Remember the challenge's wider scope under the request's own key too.
      const entry = this.#tokens.get(key);
      if (entry) this.#tokens.set(scopeKey(scopes), entry);
    }
    return true;
  }

  /** Forget every cached token (tests; after credentials change). */
  clearTokens(): void {
    this.#tokens.clear();
  }

  async #token(scopes: readonly string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.#now()) return cached.token;
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = (async () => {
      if (!this.#realm) throw new AirlockError('INTERNAL', 'bearer token requested before a challenge named a realm');
      const res = await this.#fetchToken({ realm: this.#realm, service: this.#service, scopes: key ? key.split(' ') : [], credentials: await this.#credentials(scopes) });
      const lifetime = (res.expiresIn > 0 ? res.expiresIn : DEFAULT_EXPIRES_IN_S) * 1000;
      if (this.#tokens.size >= MAX_CACHED_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value as string);
      this.#tokens.set(key, { token: res.token, expiresAt: this.#now() + Math.max(0, lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 2)) });
      return res.token;
    })();
    this.#inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.#inflight.delete(key);
    }
  }
}

export function basicHeader(c: Pick<Credentials, 'username' | 'password'>): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Parse a token endpoint's JSON answer (`token` or `access_token`, `expires_in`). */
export function parseTokenResponse(body: Buffer): TokenResponse | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
    const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : undefined;
    if (!token) return undefined;
    const expiresIn = typeof doc.expires_in === 'number' && Number.isFinite(doc.expires_in) ? doc.expires_in : DEFAULT_EXPIRES_IN_S;
    return { token, expiresIn };
  } catch {
    return undefined;
  }
}
