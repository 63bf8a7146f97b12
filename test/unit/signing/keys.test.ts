import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  generateKeyPair,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parsePublicKey,
  readPassphrase,
  writeKeyPair,
  type KeyType,
} from '../../../src/signing/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';
import { tempDir } from './fixtures.js';

const none = async (): Promise<string | undefined> => undefined;

describe('generateKeyPair / writeKeyPair / loadPrivateKey', () => {
  for (const type of ['ecdsa-p256', 'ed25519'] as const satisfies readonly KeyType[]) {
    it(`round-trips a ${type} key pair through PREFIX.key and PREFIX.pub`, async (t) => {
      const dir = await tempDir(t);
      const pair = await generateKeyPair({ type });
      const { keyPath, pubPath } = await writeKeyPair(join(dir, 'k'), pair, {});
      assert.equal(keyPath, join(dir, 'k.key'));
      assert.equal(pubPath, join(dir, 'k.pub'));
      const key = await loadPrivateKey(keyPath, none);
      const pub = await loadPublicKey(pubPath);
      assert.equal(key.type, type);
      assert.equal(pub.type, type);
      assert.match(key.fingerprint, /^sha256:[a-f0-9]{64}$/);
      assert.equal(key.fingerprint, pub.fingerprint);
      assert.equal(keyFingerprint(pub), pub.fingerprint);
      assert.equal(keyFingerprint(key.privateKey), pub.fingerprint);
    });
  }

  it('makes ECDSA P-256 by default', async () => {
    const pair = await generateKeyPair();
    assert.equal(parsePublicKey(pair.publicPem).type, 'ecdsa-p256');
  });

  it('writes the private key with mode 0600 and the public key with 0644', async (t) => {
    const dir = await tempDir(t);
    const old = process.umask(0o000); // a permissive umask must not widen the private key
    try {
      const { keyPath, pubPath } = await writeKeyPair(join(dir, 'k'), await generateKeyPair({}), {});
      assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
      assert.equal((await stat(pubPath)).mode & 0o777, 0o644);
    } finally {
      process.umask(old);
    }
  });

  it('refuses to overwrite an existing key pair unless forced', async (t) => {
    const dir = await tempDir(t);
    const first = await generateKeyPair({});
    await writeKeyPair(join(dir, 'k'), first, {});
    await assertRejectsCode(writeKeyPair(join(dir, 'k'), await generateKeyPair({}), {}), 'USAGE');
    assert.equal(await readFile(join(dir, 'k.key'), 'utf8'), first.privatePem, 'the old key is untouched');
    const second = await generateKeyPair({ type: 'ed25519' });
    await writeKeyPair(join(dir, 'k'), second, { force: true });
    assert.equal(await readFile(join(dir, 'k.key'), 'utf8'), second.privatePem);
    assert.equal((await stat(join(dir, 'k.key'))).mode & 0o777, 0o600);
  });

  it('refuses when only PREFIX.pub exists, and leaves no private key behind', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'k.pub'), 'someone else\n');
    await assertRejectsCode(writeKeyPair(join(dir, 'k'), await generateKeyPair({}), {}), 'USAGE');
    await assert.rejects(stat(join(dir, 'k.key')), { code: 'ENOENT' });
  });

  it('encrypts the private key under a passphrase and needs it back', async (t) => {
    const dir = await tempDir(t);
    const pair = await generateKeyPair({ type: 'ecdsa-p256', passphrase: 'correct horse' });
    assert.match(pair.privatePem, /BEGIN ENCRYPTED PRIVATE KEY/);
    const { keyPath, pubPath } = await writeKeyPair(join(dir, 'k'), pair, {});
    const key = await loadPrivateKey(keyPath, async () => 'correct horse');
    assert.equal(key.fingerprint, (await loadPublicKey(pubPath)).fingerprint);
    await assertRejectsCode(loadPrivateKey(keyPath, async () => 'wrong horse'), 'KEY_INVALID');
    await assertRejectsCode(loadPrivateKey(keyPath, none), 'KEY_INVALID');
    await assertRejectsCode(loadPrivateKey(keyPath, async () => ''), 'KEY_INVALID');
  });

  it('asks for a passphrase only when the key is encrypted', async (t) => {
    const dir = await tempDir(t);
    const { keyPath } = await writeKeyPair(join(dir, 'k'), await generateKeyPair({}), {});
    let asked = 0;
    await loadPrivateKey(keyPath, async () => {
      asked++;
      return 'x';
    });
    assert.equal(asked, 0);
  });

  it('refuses P-384, RSA, a public key, garbage and a missing file with KEY_INVALID', async (t) => {
    const dir = await tempDir(t);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const files: Record<string, string> = {
      'p384.key': p384.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      'rsa.key': rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      'pub.key': (await generateKeyPair({})).publicPem,
      'garbage.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
    };
    for (const [name, pem] of Object.entries(files)) {
      await writeFile(join(dir, name), pem);
      await assertRejectsCode(loadPrivateKey(join(dir, name), none), 'KEY_INVALID');
    }
    await assertRejectsCode(loadPrivateKey(join(dir, 'missing.key'), none), 'KEY_INVALID');
    await writeFile(join(dir, 'p384.pub'), p384.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    await assertRejectsCode(loadPublicKey(join(dir, 'p384.pub')), 'KEY_INVALID');
    await assertRejectsCode(loadPublicKey(join(dir, 'garbage.key')), 'KEY_INVALID');
    await assertRejectsCode(loadPublicKey(join(dir, 'missing.pub')), 'KEY_INVALID');
  });

  it('refuses a private key where a public key is expected', async () => {
    const pair = await generateKeyPair({});
    assertThrowsCode(() => parsePublicKey(pair.privatePem), 'KEY_INVALID');
  });
});

describe('readPassphrase', () => {
  it('takes AIRLOCK_KEY_PASSWORD first', async () => {
    assert.equal(await readPassphrase('p: ', { env: { AIRLOCK_KEY_PASSWORD: 'from-env' } }), 'from-env');
  });

  it('returns undefined without the variable and without a terminal', async () => {
    const notTty = new PassThrough() as unknown as NodeJS.ReadStream;
    const out = new PassThrough() as unknown as NodeJS.WriteStream;
    assert.equal(await readPassphrase('p: ', { env: {}, input: notTty, output: out }), undefined);
  });

  it('reads a line from a terminal without echoing it', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, isRaw: false, setRawMode: (_: boolean) => input }) as unknown as NodeJS.ReadStream;
    const output = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
    let echoed = '';
    (output as unknown as PassThrough).on('data', (c: Buffer) => (echoed += c.toString()));
    const p = readPassphrase('Passphrase: ', { env: {}, input, output });
    (input as unknown as PassThrough).write('secrx\u007ft\r');
    assert.equal(await p, 'secrt');
    assert.ok(!echoed.includes('secr'), 'typed characters are not echoed');
    assert.ok(echoed.startsWith('Passphrase: '));
  });
});
