/**
 * Sigstore's own test services, @sigstore/mock (Fulcio CA with a CT log, Rekor, RFC 3161 TSA), served
 * over real HTTP on 127.0.0.1 so the CLI under test reaches them the way it reaches the public-good
 * instance, plus the trusted_root.json that verifies what they issue. The package installs its
 * handlers through nock in-process; here they sit behind a plain node:http server instead, so a
 * spawned CLI can use them and nothing intercepts the test process's own traffic.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sigstoreMock from '@sigstore/mock';

export interface SigstoreMock {
  /** `http://127.0.0.1:PORT`: Fulcio, Rekor and the TSA all answer here (their paths differ). */
  readonly url: string;
  /** trusted_root.json for this mock instance (Fulcio CA, Rekor key, CT log key, TSA chain). */
  readonly trustedRootPath: string;
  readonly trustedRoot: Record<string, unknown>;
  readonly dir: string;
  /** Requests served, by path (to prove a command did or did not go to the network). */
  readonly requests: Map<string, number>;
  /** An unsigned JWT (the mock Fulcio reads the claims without checking a signature). */
  token(claims: { readonly sub: string; readonly iss: string }): string;
  /** Write token(claims) to a file in the mock's directory; returns its path. */
  writeToken(name: string, claims: { readonly sub: string; readonly iss: string }): Promise<string>;
  stop(): Promise<void>;
}

type Handler = { path: string; fn: (body: string) => Promise<{ statusCode: number; response: string | ArrayBufferView; contentType?: string }> };

const ecKeyPair = (): { publicKey: import('node:crypto').KeyObject; privateKey: import('node:crypto').KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

const b64 = (v: ArrayBufferView | Buffer): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

export async function startSigstoreMock(): Promise<SigstoreMock> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-sigstore-mock-'));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('mock Sigstore server has no port');
  const url = `http://127.0.0.1:${addr.port}`;

  const caKeys = ecKeyPair();
  const ctlog = await sigstoreMock.initializeCTLog(caKeys);
  const ca = await sigstoreMock.initializeCA(caKeys, ctlog);
  const tlog = await sigstoreMock.initializeTLog(url, ecKeyPair());
  // The mock TSA writes genTime with the milliseconds' trailing zeros cut (".12Z", or none at all
  // for ".000"), and @sigstore/core 3.2.1 parses a GeneralizedTime with no or exactly three fraction
  // digits only: one timestamp in ten failed to verify. Its clock is a Date it reads per request, so
  // it is set before each one to now with a last millisecond digit that is never 0.
  const tsaClock = new Date();
  const tsa = await sigstoreMock.initializeTSA(ecKeyPair(), tsaClock);
  const handlers: Handler[] = [sigstoreMock.fulcioHandler(ca), sigstoreMock.rekorHandler(tlog), sigstoreMock.tsaHandler(tsa)];
  const requests = new Map<string, number>();
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.set(path, (requests.get(path) ?? 0) + 1);
      const h = req.method === 'POST' ? handlers.find((x) => x.path === path) : undefined;
      const now = Date.now();
      tsaClock.setTime(now % 10 === 0 ? now + 1 : now);
      if (!h) {
        res.writeHead(404).end();
        return;
      }
      h.fn(Buffer.concat(chunks).toString('utf8')).then(
        (r) => {
          res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'text/plain' });
          res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });

  // @sigstore/core parses RFC 3339 times with exactly three fraction digits: toISOString() writes those.
  const validFor = { start: new Date(Date.now() - 60_000).toISOString() };
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: url, hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' }, uri: url,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] }, validFor,
    }],
    ctlogs: [{
      baseUrl: url, hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'tsa' }, uri: url,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] }, validFor,
    }],
  };
  const trustedRootPath = join(dir, 'trusted_root.json');
  await writeFile(trustedRootPath, `${JSON.stringify(trustedRoot, null, 2)}\n`);

  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = (claims: { sub: string; iss: string }): string =>
    `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, aud: 'sigstore', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 })}.`;
  return {
    url, trustedRootPath, trustedRoot, dir, requests, token,
    async writeToken(name, claims) {
      const p = join(dir, name);
      await writeFile(p, `${token(claims)}\n`, { mode: 0o600 });
      return p;
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
