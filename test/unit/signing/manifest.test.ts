import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  AIRLOCK_PREDICATE_TYPE,
  generateKeyPair,
  inspectSignature,
  loadPrivateKey,
  parsePublicKey,
  signBundleManifest,
  verifyBundleManifest,
  type KeyType,
  type SignaturePolicy,
  type SigningKey,
  type VerificationKey,
} from '../../../src/signing/index.js';
import { writeKeyPair } from '../../../src/signing/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { airlockJson, KEYLESS, sha256, tempDir } from './fixtures.js';
import type { TestContext } from 'node:test';

interface Pair {
  key: SigningKey;
  pub: VerificationKey;
}

async function makeKey(t: TestContext, type: KeyType = 'ecdsa-p256'): Promise<Pair> {
  const dir = await tempDir(t);
  const pem = await generateKeyPair({ type });
  const { keyPath } = await writeKeyPair(`${dir}/k`, pem, {});
  return { key: await loadPrivateKey(keyPath, async () => undefined), pub: parsePublicKey(pem.publicPem) };
}

async function sign(json: Buffer, key: SigningKey, baseIds: readonly string[] = []): Promise<Buffer> {
  return signBundleManifest({ airlockJson: json, bundleId: sha256(json), baseIds, toolVersion: '0.1.0', key });
}

const policy = (keys: readonly VerificationKey[], extra: Partial<SignaturePolicy> = {}): SignaturePolicy => ({ keys, insecureSkipSignature: false, ...extra });

describe('signBundleManifest → verifyBundleManifest', () => {
  for (const type of ['ecdsa-p256', 'ed25519'] as const) {
    it(`round-trips with a ${type} key`, async (t) => {
      const { key, pub } = await makeKey(t, type);
      const json = airlockJson();
      const base = sha256('base bundle');
      const signature = await sign(json, key, [base]);
      const status = await verifyBundleManifest({ airlockJson: json, signature, policy: policy([pub]) });
      assert.deepEqual(status, {
        signed: true,
        verified: true,
        method: 'key',
        signer: pub.fingerprint,
        predicate: { bundleId: sha256(json), bases: [base], toolVersion: '0.1.0' },
      });
    });
  }

  it('writes a Sigstore bundle v0.3 with a DSSE envelope over an in-toto statement about airlock.json', async (t) => {
    const { key } = await makeKey(t);
    const json = airlockJson();
    const doc = JSON.parse((await sign(json, key)).toString('utf8'));
    assert.equal(doc.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(doc.verificationMaterial.publicKey.hint, key.fingerprint);
    assert.deepEqual(doc.verificationMaterial.tlogEntries ?? [], [], 'offline: no transparency log entry');
    assert.equal(doc.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
    assert.equal(doc.dsseEnvelope.signatures.length, 1);
    const statement = JSON.parse(Buffer.from(doc.dsseEnvelope.payload, 'base64').toString('utf8'));
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [{ name: 'airlock.json', digest: { sha256: sha256(json).slice(7) } }]);
    assert.equal(statement.predicateType, AIRLOCK_PREDICATE_TYPE);
    assert.deepEqual(statement.predicate, { bundleId: sha256(json), bases: [], toolVersion: '0.1.0' });
  });

  it('refuses to sign with a bundle id that is not the digest of airlock.json', async (t) => {
    const { key } = await makeKey(t);
    await assertRejectsCode(
      signBundleManifest({ airlockJson: airlockJson(), bundleId: sha256('other'), baseIds: [], toolVersion: '0.1.0', key }),
      'INTERNAL',
    );
  });

  it('accepts any one of several keys', async (t) => {
    const a = await makeKey(t);
    const b = await makeKey(t, 'ed25519');
    const json = airlockJson();
    const status = await verifyBundleManifest({ airlockJson: json, signature: await sign(json, b.key), policy: policy([a.pub, b.pub]) });
    assert.equal(status.signer, b.pub.fingerprint);
  });

  it('does not rely on the unauthenticated key hint', async (t) => {
    const { key, pub } = await makeKey(t);
    const json = airlockJson();
    const doc = JSON.parse((await sign(json, key)).toString('utf8'));
    doc.verificationMaterial.publicKey.hint = 'some-other-tool-hint';
    const status = await verifyBundleManifest({ airlockJson: json, signature: Buffer.from(JSON.stringify(doc)), policy: policy([pub]) });
    assert.equal(status.verified, true);
    assert.equal(status.signer, pub.fingerprint);
  });

  it('signs with the DSSE bundler loaded by its path, the same class as the package index exports', async () => {
    const byPath = (await import('@sigstore/sign/dist/bundler/dsse.js')).default.DSSEBundleBuilder;
    assert.equal(typeof byPath, 'function');
    assert.equal(byPath, (await import('@sigstore/sign')).default.DSSEBundleBuilder);
  });
});

describe('verifyBundleManifest refuses', () => {
  it('a signature by another key (unknown key)', async (t) => {
    const signer = await makeKey(t);
    const other = await makeKey(t);
    const json = airlockJson();
    await assertRejectsCode(verifyBundleManifest({ airlockJson: json, signature: await sign(json, signer.key), policy: policy([other.pub]) }), 'SIGNATURE_INVALID');
  });

  it('a signed bundle when no key is given', async (t) => {
    const { key } = await makeKey(t);
    const json = airlockJson();
    await assertRejectsCode(verifyBundleManifest({ airlockJson: json, signature: await sign(json, key), policy: policy([]) }), 'SIGNATURE_UNVERIFIED');
  });

  it('airlock.json with one byte changed', async (t) => {
    const { key, pub } = await makeKey(t);
    const json = airlockJson();
    const signature = await sign(json, key);
    for (const offset of [0, Math.floor(json.length / 2), json.length - 1]) {
      const tampered = Buffer.from(json);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0x01;
      await assertRejectsCode(verifyBundleManifest({ airlockJson: tampered, signature, policy: policy([pub]) }), 'SIGNATURE_INVALID');
    }
  });

  it('a valid signature over another airlock.json', async (t) => {
    const { key, pub } = await makeKey(t);
    const signatureOfB = await sign(airlockJson('b'), key);
    await assertRejectsCode(verifyBundleManifest({ airlockJson: airlockJson('a'), signature: signatureOfB, policy: policy([pub]) }), 'SIGNATURE_INVALID');
  });

  it('a statement rewritten to name the tampered airlock.json (the signature no longer matches)', async (t) => {
    const { key, pub } = await makeKey(t);
    const good = airlockJson('a');
    const evil = airlockJson('evil');
    const doc = JSON.parse((await sign(good, key)).toString('utf8'));
    const statement = JSON.parse(Buffer.from(doc.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.subject[0].digest.sha256 = sha256(evil).slice(7);
    statement.predicate.bundleId = sha256(evil);
    doc.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    await assertRejectsCode(verifyBundleManifest({ airlockJson: evil, signature: Buffer.from(JSON.stringify(doc)), policy: policy([pub]) }), 'SIGNATURE_INVALID');
  });

  it('a damaged signature', async (t) => {
    const { key, pub } = await makeKey(t);
    const json = airlockJson();
    const doc = JSON.parse((await sign(json, key)).toString('utf8'));
    const sig = Buffer.from(doc.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
    doc.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    await assertRejectsCode(verifyBundleManifest({ airlockJson: json, signature: Buffer.from(JSON.stringify(doc)), policy: policy([pub]) }), 'SIGNATURE_INVALID');
  });

  it('malformed signature files', async (t) => {
    const { key, pub } = await makeKey(t);
    const json = airlockJson();
    const doc = JSON.parse((await sign(json, key)).toString('utf8'));
    const cases: Buffer[] = [
      Buffer.from('not json'),
      Buffer.from('{}'),
      Buffer.from(JSON.stringify({ ...doc, mediaType: 'application/json' })),
      Buffer.from(JSON.stringify({ ...doc, dsseEnvelope: { ...doc.dsseEnvelope, payloadType: 'text/plain' } })),
      Buffer.from(JSON.stringify({ ...doc, dsseEnvelope: { ...doc.dsseEnvelope, signatures: [] } })),
    ];
    for (const signature of cases) {
      await assertRejectsCode(verifyBundleManifest({ airlockJson: json, signature, policy: policy([pub]) }), 'SIGNATURE_INVALID');
    }
  });

  it('an unsigned bundle with SIGNATURE_MISSING', async (t) => {
    const { pub } = await makeKey(t);
    await assertRejectsCode(verifyBundleManifest({ airlockJson: airlockJson(), signature: undefined, policy: policy([pub]) }), 'SIGNATURE_MISSING');
  });

  it('a keyless message signature where a DSSE statement about airlock.json is required', async () => {
    const signature = await readFile(KEYLESS.bundle());
    const keyless = { trustedRootPath: KEYLESS.trustedRoot(), identity: KEYLESS.identity, issuer: KEYLESS.issuer };
    await assertRejectsCode(verifyBundleManifest({ airlockJson: airlockJson(), signature, policy: policy([], { keyless }) }), 'SIGNATURE_INVALID');
  });
});

describe('--insecure-skip-signature', () => {
  it('accepts an unsigned bundle as not verified, without throwing', async () => {
    const status = await verifyBundleManifest({ airlockJson: airlockJson(), signature: undefined, policy: { keys: [], insecureSkipSignature: true } });
    assert.equal(status.signed, false);
    assert.equal(status.verified, false);
    assert.ok(status.reason);
  });

  it('reports a bad signature as not verified, with the claimed signer', async (t) => {
    const signer = await makeKey(t);
    const other = await makeKey(t);
    const json = airlockJson();
    const status = await verifyBundleManifest({ airlockJson: json, signature: await sign(json, signer.key), policy: { keys: [other.pub], insecureSkipSignature: true } });
    assert.equal(status.signed, true);
    assert.equal(status.verified, false);
    assert.equal(status.signer, signer.pub.fingerprint);
    assert.ok(status.reason);
  });
});

describe('inspectSignature', () => {
  it('reports signer and verification without throwing', async (t) => {
    const { key, pub } = await makeKey(t);
    const json = airlockJson();
    const signature = await sign(json, key);
    const unverified = await inspectSignature(json, signature, { keys: [] });
    assert.equal(unverified.signed, true);
    assert.equal(unverified.verified, false);
    assert.equal(unverified.method, 'key');
    assert.equal(unverified.signer, key.fingerprint);
    const verified = await inspectSignature(json, signature, { keys: [pub] });
    assert.equal(verified.verified, true);
    const tampered = await inspectSignature(airlockJson('x'), signature, { keys: [pub] });
    assert.equal(tampered.verified, false);
    assert.equal((await inspectSignature(json, undefined, { keys: [pub] })).signed, false);
    assert.equal((await inspectSignature(json, Buffer.from('garbage'), { keys: [pub] })).verified, false);
  });

  it('names the keyless signer of a certificate-based bundle', async () => {
    const status = await inspectSignature(airlockJson(), await readFile(KEYLESS.bundle()), { keys: [] });
    assert.equal(status.method, 'keyless');
    assert.equal(status.signer, KEYLESS.identity);
    assert.equal(status.issuer, KEYLESS.issuer);
    assert.equal(status.verified, false);
  });
});
