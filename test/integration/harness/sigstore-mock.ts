/**
 * A private Sigstore instance for tests: @sigstore/mock's Fulcio CA (with a CT log), Rekor and
 * timestamp authority, served on 127.0.0.1 by a small HTTP server, and @sigstore/sign's real
 * FulcioSigner, RekorWitness and TSAWitness making keyless bundles against it, as `cosign
 * sign-blob --bundle` does against the public-good instance. `trustedRoot` is the
 * trusted_root.json a site would be given for it.
 *
 * Timestamps in the root are written with three fraction digits (toISOString):
 * @sigstore/core rejects RFC 3339 times with fewer.
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleToJSON } from '@sigstore/bundle';
import {
  fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler, type HandlerFn,
} from '@sigstore/mock';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness } from '@sigstore/sign';

export interface MockSigstore {
  /** trusted_root.json text for this instance. */
  readonly trustedRoot: string;
  /** A Sigstore bundle (v0.3 JSON text) over `data`, by a certificate for `identity` from `issuer`. */
  sign(data: Buffer, identity: string, issuer: string): Promise<string>;
  stop(): Promise<void>;
}

function keyPair(): { publicKey: import('node:crypto').KeyObject; privateKey: import('node:crypto').KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function b64url(o: object): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/**
 * A key-signed Sigstore bundle over `data` (what `cosign sign-blob --key K --bundle B` writes
 * with no transparency log): a message signature by the PEM private key, no witnesses.
 */
export async function signBlobWithKey(data: Buffer, privateKeyPem: string, publicKeyPem: string): Promise<string> {
  const signer = {
    sign: (bytes: Buffer) => Promise.resolve({
      signature: cryptoSign('sha256', bytes, createPrivateKey(privateKeyPem)),
      key: { $case: 'publicKey' as const, publicKey: publicKeyPem, hint: '' },
    }),
  };
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data });
  return JSON.stringify(bundleToJSON(bundle));
}

export async function startMockSigstore(): Promise<MockSigstore> {
  const ctLog = await initializeCTLog(keyPair());
  const ca = await initializeCA(keyPair(), ctLog);
  const tlogUrl = 'https://rekor.mock.test';
  const tlog = await initializeTLog(tlogUrl, keyPair());
  const tsa = await initializeTSA(keyPair());
  const routes = new Map<string, HandlerFn>();
  for (const h of [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)]) routes.set(h.path, h.fn);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fn = routes.get((req.url ?? '').split('?')[0]!);
      if (!fn || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      fn(Buffer.concat(chunks).toString('utf8')).then((r) => {
        res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'application/json' });
        res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
      }, (err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const start = new Date(Date.now() - 3600_000).toISOString();
  const b64 = (v: ArrayBufferView | Buffer): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  const trustedRoot = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: tlogUrl, hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' }, uri: base,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] }, validFor: { start },
    }],
    ctlogs: [{
      baseUrl: 'https://ctfe.mock.test', hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctLog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(ctLog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'tsa' }, uri: base,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] }, validFor: { start },
    }],
  }, null, 2);

  return {
    trustedRoot,
    async sign(data, identity, issuer) {
      // An unsigned OIDC token: the mock Fulcio reads its claims without checking a signature.
      const now = Math.floor(Date.now() / 1000);
      const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: issuer, sub: identity, email: identity, email_verified: true, aud: 'sigstore', iat: now, exp: now + 600 })}.`;
      const builder = new MessageSignatureBundleBuilder({
        signer: new FulcioSigner({ fulcioBaseURL: base, identityProvider: { getToken: () => Promise.resolve(token) } }),
        witnesses: [new RekorWitness({ rekorBaseURL: base }), new TSAWitness({ tsaBaseURL: base })],
      });
      const bundle = await builder.create({ data });
      return JSON.stringify(bundleToJSON(bundle));
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
