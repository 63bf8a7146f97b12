import assert from 'node:assert/strict';
import dns from 'node:dns';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { describe, it } from 'node:test';
import {
  generateKeyPair,
  inspectSignature,
  parsePublicKey,
  signBundleManifest,
  verifyBundleManifest,
  verifySigstoreBundleForDigest,
  loadPrivateKey,
  writeKeyPair,
} from '../../../src/signing/index.js';
import { airlockJson, KEYLESS, sha256, tempDir } from './fixtures.js';

/**
 * Run `fn` with every way out of the process trapped: socket connects, DNS lookups and fetch.
 * Any attempt fails the call and is counted.
 */
async function withNetworkTrapped<T>(fn: () => Promise<T>): Promise<{ result: T; attempts: string[] }> {
  const attempts: string[] = [];
  const trap = (what: string) =>
    function trapped(): never {
      attempts.push(what);
      throw new Error(`network access during an offline operation: ${what}`);
    };
  const saved = {
    connect: net.Socket.prototype.connect,
    lookup: dns.lookup,
    promisesLookup: dns.promises.lookup,
    resolve: dns.resolve,
    fetch: globalThis.fetch,
  };
  net.Socket.prototype.connect = trap('net.Socket.connect') as typeof net.Socket.prototype.connect;
  dns.lookup = trap('dns.lookup') as unknown as typeof dns.lookup;
  dns.promises.lookup = trap('dns.promises.lookup') as unknown as typeof dns.promises.lookup;
  dns.resolve = trap('dns.resolve') as unknown as typeof dns.resolve;
  globalThis.fetch = trap('fetch') as unknown as typeof fetch;
  try {
    return { result: await fn(), attempts };
  } finally {
    net.Socket.prototype.connect = saved.connect;
    dns.lookup = saved.lookup;
    dns.promises.lookup = saved.promisesLookup;
    dns.resolve = saved.resolve;
    globalThis.fetch = saved.fetch;
  }
}

describe('offline', () => {
  it('the trap catches a real connection attempt', async () => {
    const { attempts } = await withNetworkTrapped(async () => {
      try {
        net.connect(9, '127.0.0.1').destroy();
      } catch {
        // expected
      }
    });
    assert.deepEqual(attempts, ['net.Socket.connect']);
  });

  it('signing, key verification, inspection and keyless verification open no socket and resolve no name', async (t) => {
    const dir = await tempDir(t);
    const pem = await generateKeyPair({ type: 'ecdsa-p256' });
    const { keyPath } = await writeKeyPair(`${dir}/k`, pem, {});
    const pub = parsePublicKey(pem.publicPem);
    const json = airlockJson();
    const artifact = await readFile(KEYLESS.artifact());
    const keylessBundle = await readFile(KEYLESS.bundle());

    const { result, attempts } = await withNetworkTrapped(async () => {
      const key = await loadPrivateKey(keyPath, async () => undefined);
      const signature = await signBundleManifest({ airlockJson: json, bundleId: sha256(json), baseIds: [], toolVersion: '0.1.0', key });
      const verified = await verifyBundleManifest({ airlockJson: json, signature, policy: { keys: [pub], insecureSkipSignature: false } });
      const inspected = await inspectSignature(json, signature, { keys: [] });
      const keyless = await verifySigstoreBundleForDigest({
        bundle: keylessBundle,
        manifest: artifact,
        imageDigest: sha256(artifact),
        policy: { keyless: { trustedRootPath: KEYLESS.trustedRoot(), identity: KEYLESS.identity, issuer: KEYLESS.issuer } },
      });
      const wrongIdentity = await verifySigstoreBundleForDigest({
        bundle: keylessBundle,
        manifest: artifact,
        imageDigest: sha256(artifact),
        policy: { keyless: { trustedRootPath: KEYLESS.trustedRoot(), identity: 'x@example.com', issuer: KEYLESS.issuer } },
      }).catch((err: unknown) => err);
      return { verified, inspected, keyless, wrongIdentity };
    });
    assert.deepEqual(attempts, []);
    assert.equal(result.verified.verified, true);
    assert.equal(result.inspected.signed, true);
    assert.equal(result.keyless.signer, KEYLESS.identity);
    assert.ok(result.wrongIdentity instanceof Error);
  });
});
