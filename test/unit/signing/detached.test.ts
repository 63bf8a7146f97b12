import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPair, parsePublicKey, signDetached, toVerificationKey, verifyDetached } from '../../../src/signing/index.js';
import { loadPrivateKey } from '../../../src/signing/index.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_TYPES } from '../../../src/signing/index.js';

describe('detached signatures (SHA256SUMS.sig)', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: verifies with the key that signed, not with another key nor over other bytes`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'airlock-detached-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const pair = await generateKeyPair({ type });
      await writeFile(join(dir, 'k.key'), pair.privatePem, { mode: 0o600 });
      const key = await loadPrivateKey(join(dir, 'k.key'), async () => undefined);
      const data = Buffer.from('abc  airlock-0.1.0-linux-x64\n');
      const sig = signDetached(data, key);
      assert.equal(verifyDetached(data, sig, toVerificationKey(key)), true);
      assert.equal(verifyDetached(data, sig, parsePublicKey(pair.publicPem)), true);
      assert.equal(verifyDetached(Buffer.from('abd  airlock-0.1.0-linux-x64\n'), sig, toVerificationKey(key)), false);
      const other = parsePublicKey((await generateKeyPair({ type })).publicPem);
      assert.equal(verifyDetached(data, sig, other), false);
      assert.equal(verifyDetached(data, Buffer.from('not a signature'), toVerificationKey(key)), false);
      // ECDSA signatures are DER (what `openssl dgst -sha256 -verify` reads); Ed25519's are 64 bytes.
      if (type === 'ed25519') assert.equal(sig.length, 64);
      else assert.equal(sig[0], 0x30);
    });
  }
});
