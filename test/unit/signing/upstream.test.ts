import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  keyFingerprint,
  parsePublicKey,
  verifyCosignSimpleSigning,
  verifySigstoreBundleForDigest,
  type KeylessPolicy,
  type VerificationKey,
} from '../../../src/signing/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';
import { KEYLESS, sha256, tempDir } from './fixtures.js';

interface TestKey {
  privateKey: KeyObject;
  pub: VerificationKey;
  type: 'ec' | 'ed25519';
}

function testKey(type: 'ec' | 'ed25519' = 'ec'): TestKey {
  const kp = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { privateKey: kp.privateKey, pub: parsePublicKey(kp.publicKey.export({ type: 'spki', format: 'pem' }) as string), type };
}

const signWith = (k: TestKey, data: Buffer): Buffer => cryptoSign(k.type === 'ec' ? 'sha256' : null, data, k.privateKey);

/** The payload `cosign sign --key` stores in the .sig manifest's layer. */
function simpleSigningPayload(digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'registry.example.com/app' },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

const IMAGE = sha256('an image manifest');

describe('verifyCosignSimpleSigning', () => {
  for (const type of ['ec', 'ed25519'] as const) {
    it(`accepts a good ${type} signature for the image`, () => {
      const k = testKey(type);
      const payload = simpleSigningPayload(IMAGE);
      verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: signWith(k, payload).toString('base64'), key: k.pub });
    });
  }

  it('rejects a signature by another key', () => {
    const payload = simpleSigningPayload(IMAGE);
    const sig = signWith(testKey(), payload).toString('base64');
    assertThrowsCode(() => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: sig, key: testKey().pub }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects a valid signature whose payload names another image', () => {
    const k = testKey();
    const payload = simpleSigningPayload(sha256('another image'));
    const sig = signWith(k, payload).toString('base64');
    assertThrowsCode(() => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: sig, key: k.pub }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects a payload changed after signing', () => {
    const k = testKey();
    const payload = simpleSigningPayload(IMAGE);
    const sig = signWith(k, payload).toString('base64');
    const changed = Buffer.concat([payload, Buffer.from(' ')]);
    assertThrowsCode(() => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload: changed, signatureB64: sig, key: k.pub }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects garbage base64 and an empty annotation', () => {
    const k = testKey();
    const payload = simpleSigningPayload(IMAGE);
    for (const bad of ['', 'not base64!!', '@@@@', 'AAA']) {
      assertThrowsCode(() => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: bad, key: k.pub }), 'UPSTREAM_SIGNATURE_INVALID');
    }
    // well-formed base64 that is not a signature
    assertThrowsCode(
      () => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: Buffer.from('hello').toString('base64'), key: k.pub }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
  });

  it('rejects a signed payload without the manifest digest', () => {
    const k = testKey();
    const payload = Buffer.from(JSON.stringify({ critical: { image: {} } }));
    assertThrowsCode(
      () => verifyCosignSimpleSigning({ imageDigest: IMAGE, payload, signatureB64: signWith(k, payload).toString('base64'), key: k.pub }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
  });
});

/** DSSE pre-authentication encoding: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

/** A key-based Sigstore bundle like cosign v3 attaches as a referrer, made by hand. */
function dsseBundleFor(k: TestKey, subjectDigest: string): Buffer {
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'registry.example.com/app', digest: { sha256: subjectDigest.slice(7) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  );
  const type = 'application/vnd.in-toto+json';
  return Buffer.from(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: keyFingerprint(k.pub) }, tlogEntries: [] },
      dsseEnvelope: { payload: statement.toString('base64'), payloadType: type, signatures: [{ sig: signWith(k, pae(type, statement)).toString('base64'), keyid: '' }] },
    }),
  );
}

describe('verifySigstoreBundleForDigest with a key', () => {
  it('accepts a DSSE bundle whose subject is the image', async () => {
    const k = testKey();
    const r = await verifySigstoreBundleForDigest({ bundle: dsseBundleFor(k, IMAGE), imageDigest: IMAGE, policy: { key: k.pub } });
    assert.equal(r.method, 'key');
    assert.equal(r.signer, k.pub.fingerprint);
    assert.equal(r.predicateType, 'https://sigstore.dev/cosign/sign/v1');
  });

  it('rejects a DSSE bundle about another image', async () => {
    const k = testKey();
    await assertRejectsCode(verifySigstoreBundleForDigest({ bundle: dsseBundleFor(k, sha256('other')), imageDigest: IMAGE, policy: { key: k.pub } }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects a bundle signed by another key, or with no key given', async () => {
    const bundle = dsseBundleFor(testKey('ed25519'), IMAGE);
    await assertRejectsCode(verifySigstoreBundleForDigest({ bundle, imageDigest: IMAGE, policy: { key: testKey().pub } }), 'UPSTREAM_SIGNATURE_INVALID');
    await assertRejectsCode(verifySigstoreBundleForDigest({ bundle, imageDigest: IMAGE, policy: {} }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects garbage', async () => {
    await assertRejectsCode(verifySigstoreBundleForDigest({ bundle: Buffer.from('{"mediaType":1}'), imageDigest: IMAGE, policy: { key: testKey().pub } }), 'UPSTREAM_SIGNATURE_INVALID');
  });
});

describe('verifySigstoreBundleForDigest keyless, offline, with a real public-good bundle', () => {
  // The fixture is a message signature over artifact.txt; its digest plays the image digest.
  const load = async () => {
    const artifact = await readFile(KEYLESS.artifact());
    return { bundle: await readFile(KEYLESS.bundle()), manifest: artifact, imageDigest: sha256(artifact) };
  };
  const policy = (p: Partial<KeylessPolicy>): { keyless: KeylessPolicy } => ({
    keyless: { trustedRootPath: KEYLESS.trustedRoot(), issuer: KEYLESS.issuer, ...p },
  });

  it('verifies with the right identity and issuer', async () => {
    const r = await verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identity: KEYLESS.identity }) });
    assert.deepEqual(r, { method: 'keyless', signer: KEYLESS.identity, issuer: KEYLESS.issuer });
  });

  it('verifies with an identity regexp that matches the whole identity', async () => {
    const r = await verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identityRegexp: '[a-z]+@gmail\\.com' }) });
    assert.equal(r.signer, KEYLESS.identity);
  });

  it('rejects a wrong identity', async () => {
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identity: 'someone@example.com' }) }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('rejects an identity that is only a part of the signer (anchored, escaped)', async () => {
    for (const identity of ['aryadeeptade', 'deeptade@gmail.com', 'aryadeeptade@gmail', 'aryadeeptade@gmail.co']) {
      await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identity }) }), 'UPSTREAM_SIGNATURE_INVALID');
    }
    // '.' is a literal dot in an exact identity, not "any character"
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identity: 'aryadeeptade@gmail.com'.replace('@', '.') }) }), 'UPSTREAM_SIGNATURE_INVALID');
    // a regexp is unanchored, as cosign's (Go MatchString): anchors are the user's to write
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identityRegexp: '^aryadeeptade$' }) }), 'UPSTREAM_SIGNATURE_INVALID');
  });

  it('matches an identity regexp unanchored, as cosign does', async () => {
    const r = await verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identityRegexp: 'deeptade@' }) });
    assert.equal(r.signer, KEYLESS.identity);
  });

  it('matches the issuer by regexp (cosign --certificate-oidc-issuer-regexp) and refuses one that does not match', async () => {
    const { issuer: _issuer, ...rest } = policy({ identity: KEYLESS.identity }).keyless;
    const r = await verifySigstoreBundleForDigest({ ...(await load()), policy: { keyless: { ...rest, issuerRegexp: 'github\\.com|google' } } });
    assert.equal(r.issuer, KEYLESS.issuer);
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: { keyless: { ...rest, issuerRegexp: '^https://example\\.' } } }), 'UPSTREAM_SIGNATURE_INVALID');
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: { keyless: { ...rest, issuer: KEYLESS.issuer, issuerRegexp: 'x' } } }), 'USAGE');
  });

  it('rejects a wrong issuer', async () => {
    await assertRejectsCode(
      verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identity: KEYLESS.identity, issuer: 'https://accounts.google.com' }) }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
  });

  it('rejects the signature for other content', async () => {
    const good = await load();
    const other = Buffer.from('not the signed artifact\n');
    await assertRejectsCode(
      verifySigstoreBundleForDigest({ bundle: good.bundle, manifest: other, imageDigest: sha256(other), policy: policy({ identity: KEYLESS.identity }) }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
    await assertRejectsCode(
      verifySigstoreBundleForDigest({ bundle: good.bundle, manifest: other, imageDigest: good.imageDigest, policy: policy({ identity: KEYLESS.identity }) }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
  });

  it('rejects it against a trusted root without the Sigstore CAs', async (t) => {
    const dir = await tempDir(t);
    const root = JSON.parse(await readFile(KEYLESS.trustedRoot(), 'utf8'));
    root.certificateAuthorities = [];
    const path = join(dir, 'trusted_root.json');
    await writeFile(path, JSON.stringify(root));
    await assertRejectsCode(
      verifySigstoreBundleForDigest({ ...(await load()), policy: { keyless: { trustedRootPath: path, identity: KEYLESS.identity, issuer: KEYLESS.issuer } } }),
      'UPSTREAM_SIGNATURE_INVALID',
    );
  });

  it('needs an identity and an issuer (bad input, not a verification failure)', async () => {
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({}) }), 'USAGE');
    await assertRejectsCode(
      verifySigstoreBundleForDigest({ ...(await load()), policy: { keyless: { trustedRootPath: KEYLESS.trustedRoot(), identity: KEYLESS.identity } } }),
      'USAGE',
    );
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: policy({ identityRegexp: '(' }) }), 'USAGE');
  });

  it('rejects a keyless bundle when only a key is trusted', async () => {
    await assertRejectsCode(verifySigstoreBundleForDigest({ ...(await load()), policy: { key: testKey().pub } }), 'UPSTREAM_SIGNATURE_INVALID');
  });
});
