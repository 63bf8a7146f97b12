import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadBases } from '../../../src/ops/index.js';
import {
  checkReceiptSignature, removeReceiptSignature, receiptSignaturePath, writeReceiptSignature,
  generateKeyPair, parsePublicKey, signBundleManifest, loadPrivateKey, writeKeyPair, type KeyType, type VerificationKey,
} from '../../../src/signing/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from '../archive/temp.js';
import { d, fakeReceipt, writeJson } from './fixture.js';

async function keyPair(dir: string, name: string, type: KeyType = 'ecdsa-p256'): Promise<{ key: string; pub: string; verify: VerificationKey }> {
  const pair = await generateKeyPair({ type });
  const p = await writeKeyPair(join(dir, name), pair);
  return { key: p.keyPath, pub: p.pubPath, verify: parsePublicKey(pair.publicPem) };
}

describe('receipt signatures', () => {
  it('names the signature beside the receipt', () => {
    assert.equal(receiptSignaturePath('/out/receipt.json'), '/out/receipt.sigstore.json');
    assert.equal(receiptSignaturePath('site-a.json'), 'site-a.sigstore.json');
    assert.equal(receiptSignaturePath('receipt'), 'receipt.sigstore.json');
  });

  for (const type of ['ecdsa-p256', 'ed25519'] as const) {
    it(`signs and checks a receipt (${type}); --receipt-key loads it as a base`, async (t) => {
      const dir = await tempDir(t);
      const site = await keyPair(dir, 'site', type);
      const r = await writeJson(dir, 'receipt.json', fakeReceipt(d('b'), [d('x')]));
      await writeReceiptSignature(r.path, await loadPrivateKey(site.key, async () => undefined), { bundleId: d('b'), target: 'registry.site:5000' });
      const ok = await checkReceiptSignature(r.path, r.raw, [site.verify]);
      assert.equal(ok.signer, site.verify.fingerprint);
      assert.deepEqual(ok.predicate, { bundleId: d('b'), target: 'registry.site:5000' });
      const set = await loadBases([r.path], { receiptKeys: [site.pub] });
      assert.equal(set.sources[0]!.signer, site.verify.fingerprint);
    });
  }

  it('refuses an unsigned, wrongly signed, altered, or bundle-signed receipt', async (t) => {
    const dir = await tempDir(t);
    const site = await keyPair(dir, 'site');
    const other = await keyPair(dir, 'other');
    const r = await writeJson(dir, 'receipt.json', fakeReceipt(d('b'), [d('x')]));
    const siteKey = await loadPrivateKey(site.key, async () => undefined);

    await assertRejectsCode(checkReceiptSignature(r.path, r.raw, [site.verify]), 'SIGNATURE_MISSING');
    await assertRejectsCode(loadBases([r.path], { receiptKeys: [site.pub] }), 'SIGNATURE_MISSING');
    // Without --receipt-key an unsigned receipt is accepted.
    assert.equal((await loadBases([r.path], { receiptKeys: [] })).ids.length, 1);

    await writeReceiptSignature(r.path, siteKey, { bundleId: d('b'), target: 't' });
    await assertRejectsCode(checkReceiptSignature(r.path, r.raw, [other.verify]), 'SIGNATURE_INVALID');

    const altered = Buffer.from(r.raw.toString('utf8').replace(d('x'), d('y')));
    await assertRejectsCode(checkReceiptSignature(r.path, altered, [site.verify]), 'SIGNATURE_INVALID');

    // A valid bundle signature by the same key does not vouch for a receipt.
    const sub = join(dir, 'swapped');
    await mkdir(sub);
    await copyFile(r.path, join(sub, 'receipt.json'));
    const airlockJson = Buffer.from('{"version":1}\n');
    const bundleId = `sha256:${createHash('sha256').update(airlockJson).digest('hex')}`;
    const bundleSig = await signBundleManifest({ airlockJson, bundleId, baseIds: [], toolVersion: 't', key: siteKey });
    await writeFile(join(sub, 'receipt.sigstore.json'), bundleSig);
    await assertRejectsCode(checkReceiptSignature(join(sub, 'receipt.json'), await readFile(join(sub, 'receipt.json')), [site.verify]), 'SIGNATURE_INVALID');

    await removeReceiptSignature(r.path);
    await assertRejectsCode(checkReceiptSignature(r.path, r.raw, [site.verify]), 'SIGNATURE_MISSING');
  });
});
