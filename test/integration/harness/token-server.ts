/**
 * A small Docker token service (https://distribution.github.io/distribution/spec/auth/token/) for
 * Distribution's `auth.token`: it signs ES256 JWTs with a test key whose certificate travels in the
 * `x5c` header and chains to the `rootcertbundle` the registry trusts. Counters and knobs let tests
 * see how many tokens were issued and force expired tokens to test refresh.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenServerOptions {
  /** user → password accepted with Basic auth at the realm. Default { airlock: 's3cret-pass' }. */
  readonly users?: Readonly<Record<string, string>>;
  /** identity (refresh) tokens accepted with the OAuth2 refresh_token grant → the user they stand for. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
  /** Anonymous callers get pull (Docker Hub / ghcr.io style). Default true. */
  readonly anonymousPull?: boolean;
  /** Lifetime told to clients and written into `exp`, in seconds. Default 300. */
  readonly expiresIn?: number;
  readonly service?: string;
  readonly issuer?: string;
}

export interface TokenRequestRecord {
  readonly method: string;
  readonly user: string | undefined;
  readonly scopes: readonly string[];
  readonly status: number;
}

export interface TestTokenServer {
  /** `http://127.0.0.1:PORT/token` */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file with the CA that verifies tokens (Distribution's `rootcertbundle`). */
  readonly rootCertBundle: string;
  /** Every token request, in order. */
  readonly requests: TokenRequestRecord[];
  /** Tokens handed out. */
  issued(): number;
  /** The next `n` tokens are already expired when issued (while `expires_in` still says they are fresh). */
  expireNext(n: number): void;
  setExpiresIn(seconds: number): void;
  /** Options for startRegistry({ auth: 'token', token }). */
  readonly registryOptions: { realm: string; service: string; issuer: string; rootCertBundle: string };
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TestTokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-token-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Airlock Test Token CA', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=airlock-token-signer',
    '-keyout', 'signer.key', '-out', 'signer.csr');
  await writeFile(join(dir, 'signer.ext'), 'keyUsage=critical,digitalSignature\n');
  run('x509', '-req', '-in', 'signer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-out', 'signer.crt', '-extfile', 'signer.ext');
  const key = createPrivateKey(await readFile(join(dir, 'signer.key')));
  const signerDer = new X509Certificate(await readFile(join(dir, 'signer.crt'))).raw;

  const users = opts.users ?? { airlock: 's3cret-pass' };
  const refreshTokens = opts.refreshTokens ?? {};
  const anonymousPull = opts.anonymousPull ?? true;
  const service = opts.service ?? 'airlock-test-registry';
  const issuer = opts.issuer ?? 'airlock-test-issuer';
  let expiresIn = opts.expiresIn ?? 300;
  let expireNext = 0;
  let issued = 0;
  const requests: TokenRequestRecord[] = [];

  const makeToken = (sub: string, access: { type: string; name: string; actions: string[] }[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const stale = expireNext > 0;
    if (stale) expireNext--;
    const header = { typ: 'JWT', alg: 'ES256', x5c: [signerDer.toString('base64')] };
    const claims = {
      iss: issuer, sub, aud: service, jti: randomUUID(), access,
      iat: stale ? now - 7200 : now, nbf: stale ? now - 7200 : now - 10, exp: stale ? now - 3600 : now + expiresIn,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JWS ES256 wants the raw r||s signature, not DER (RFC 7518 section 3.4).
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    issued++;
    return `${input}.${b64url(sig)}`;
  };

  const parseScope = (s: string): { type: string; name: string; actions: string[] } | undefined => {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last <= first) return undefined;
    return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reply = (status: number, doc: unknown, user: string | undefined, scopes: string[]): void => {
      requests.push({ method: req.method ?? 'GET', user, scopes, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    };
    if (url.pathname !== '/token') return reply(404, { error: 'not found' }, undefined, []);
    let scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let user: string | undefined;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (form.get('grant_type') !== 'refresh_token') return reply(400, { error: 'unsupported_grant_type' }, undefined, scopes);
      user = refreshTokens[form.get('refresh_token') ?? ''];
      if (!user) return reply(401, { error: 'invalid_grant' }, undefined, scopes);
    } else {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (!u || users[u] === undefined || users[u] !== p.join(':')) {
          return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, u, scopes);
        }
        user = u;
      }
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const s of scopes) {
      const p = parseScope(s);
      if (!p) continue;
      const actions = user ? p.actions : anonymousPull ? p.actions.filter((a) => a === 'pull') : [];
      if (actions.length) access.push({ ...p, actions });
    }
    const token = makeToken(user ?? '', access);
    reply(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }, user, scopes);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const realm = `http://127.0.0.1:${port}/token`;
  const rootCertBundle = join(dir, 'ca.crt');
  return {
    realm, service, issuer, rootCertBundle, requests,
    registryOptions: { realm, service, issuer, rootCertBundle },
    issued: () => issued,
    expireNext: (n) => {
      expireNext = n;
    },
    setExpiresIn: (s) => {
      expiresIn = s;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
