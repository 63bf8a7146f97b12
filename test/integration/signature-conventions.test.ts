/**
 * Issue 23, signatures as cosign users expect them: a signed bundle checked without a key is
 * SIGNATURE_UNVERIFIED (exit 3), not SIGNATURE_INVALID, and signature errors name the bundle file
 * as well as the entry; `--key` as cosign users type it, and cosign's own key files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, open } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { indexTar } from '../../src/archive/index.js';
import { parseEntryName } from '../../src/bundle/index.js';
import { makeSignedBundles, runCli, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';

interface JsonError { error: { code: string; where?: string; hint?: string } }

describe('signature conventions', () => {
  let b: SignedBundles;
  let tar: string;

  before(async () => {
    b = await makeSignedBundles();
    tar = await b.exportTo(join(b.work, 'site.tar'));
  });
  after(async () => b?.dispose());

  it('a signed bundle with no --verify-key is SIGNATURE_UNVERIFIED (exit 3), naming the bundle file and the entry', async () => {
    for (const cmd of [['bundle', 'verify', tar], ['bundle', 'import', tar, '--to', '127.0.0.1:1', '--dry-run']]) {
      const r = await runCli([...cmd, '--json']);
      assert.equal(r.code, 3, r.stderr);
      const doc = JSON.parse(r.stdout) as JsonError;
      assert.equal(doc.error.code, 'SIGNATURE_UNVERIFIED');
      assert.equal(doc.error.where, `${tar}, entry airlock.sigstore.json`);
      assert.match(doc.error.hint ?? '', /--verify-key/);
      const human = await runCli(cmd);
      assert.equal(human.code, 3);
      assert.match(human.stderr, new RegExp(`${tar.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, entry airlock\\.sigstore\\.json`));
    }
  });

  it('a damaged blob is reported by verify with the bundle file and its entry', async () => {
    const bad = join(b.work, 'damaged.tar');
    await copyFile(tar, bad);
    const [name, loc] = [...(await indexTar(bad))].filter(([n]) => parseEntryName(n)?.kind === 'blob').sort((x, y) => y[1].size - x[1].size)[0]!;
    const fh = await open(bad, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await fh.read(byte, 0, 1, loc.offset + Math.floor(loc.size / 2));
      byte[0] = byte[0]! ^ 0xff;
      await fh.write(byte, 0, 1, loc.offset + Math.floor(loc.size / 2));
    } finally {
      await fh.close();
    }
    const r = await runCli(['bundle', 'verify', bad, '--key', b.publicKey, '--json']);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as { error: { problems: { code: string; where?: string }[] } };
    assert.deepEqual(doc.error.problems.map((p) => [p.code, p.where]), [['DIGEST_MISMATCH', `${bad}, entry ${name}`]]);
  });

  it('a wrong key is still SIGNATURE_INVALID, with the file named too', async () => {
    const other = join(b.work, 'other');
    assert.equal((await runCli(['keys', 'generate', '--out', other])).code, 0);
    const r = await runCli(['bundle', 'verify', tar, '--verify-key', `${other}.pub`, '--json']);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as JsonError;
    assert.equal(doc.error.code, 'SIGNATURE_INVALID');
    assert.equal(doc.error.where, `${tar}, entry airlock.sigstore.json`);
  });
});

/**
 * A cosign key pair made independently of airlock, by the published algorithm (go-securesystemslib
 * `encrypted`: scrypt N=32768 r=8 p=1 → 32-byte key, NaCl secretbox over the PKCS#8 DER), with
 * openssl for the EC key and Python's hashlib.scrypt and PyNaCl for the envelope.
 */
function makeCosignKeyPair(dir: string, password: string): { key: string; pub: string } {
  const pem = join(dir, 'ec.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pem]);
  // cosign encrypts x509.MarshalPKCS8PrivateKey's output: PKCS#8 DER (openssl's DER default is SEC1).
  const der = join(dir, 'cosign.der');
  execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', pem, '-outform', 'DER', '-out', der]);
  const pub = join(dir, 'cosign.pub');
  execFileSync('openssl', ['pkey', '-inform', 'DER', '-in', der, '-pubout', '-out', pub]);
  const key = join(dir, 'cosign.key');
  const script = `
import base64, hashlib, json, os, sys, textwrap
import nacl.secret, nacl.utils
der = open(sys.argv[1], 'rb').read()
salt = os.urandom(32)
k = hashlib.scrypt(sys.argv[3].encode(), salt=salt, n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)
nonce = nacl.utils.random(24)
ct = nacl.secret.SecretBox(k).encrypt(der, nonce).ciphertext
doc = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
       "ciphertext": base64.b64encode(ct).decode()}
body = "\\n".join(textwrap.wrap(base64.b64encode(json.dumps(doc).encode()).decode(), 64))
open(sys.argv[2], 'w').write("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\\n" + body + "\\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\\n")
`;
  // Debian's python3 (python3-nacl), not whatever python3 comes first on PATH.
  execFileSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['-c', script, der, key, password]);
  return { key, pub };
}

describe('--key and cosign keys', () => {
  let b: SignedBundles;
  before(async () => {
    b = await makeSignedBundles();
  });
  after(async () => b?.dispose());

  it('export --key signs with an encrypted cosign.key (COSIGN_PASSWORD), and verify/inspect/import --key check it with cosign.pub', async () => {
    const dir = await mkdtemp(join(b.work, 'cosign-'));
    const cosign = makeCosignKeyPair(dir, 'correct horse');
    const out = join(dir, 'site.tar');
    const exp = await runCli(['bundle', 'export', '-f', join(b.work, 'mirror.yaml'), '-o', out, '--key', cosign.key, '--cache', join(b.work, 'cache'), '--quiet'],
      { env: { COSIGN_PASSWORD: 'correct horse', AIRLOCK_KEY_PASSWORD: undefined } });
    assert.equal(exp.code, 0, exp.stderr);
    const verify = await runCli(['bundle', 'verify', out, '--key', cosign.pub, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    const inspect = await runCli(['bundle', 'inspect', out, '--key', cosign.pub, '--json']);
    assert.equal((JSON.parse(inspect.stdout) as { signature: { verified: boolean } }).signature.verified, true);
    const dry = await runCli(['bundle', 'import', out, '--to', '127.0.0.1:1', '--dry-run', '--key', cosign.pub, '--dest-tls-verify=false', '--json']);
    assert.notEqual(JSON.parse(dry.stdout).error?.code, 'SIGNATURE_INVALID', dry.stdout);
    assert.notEqual(JSON.parse(dry.stdout).error?.code, 'SIGNATURE_UNVERIFIED', dry.stdout);
    // The same bundle with airlock's own key: another signer.
    const wrong = await runCli(['bundle', 'verify', out, '--key', b.publicKey, '--json']);
    assert.equal(wrong.code, 3);
    assert.equal((JSON.parse(wrong.stdout) as JsonError).error.code, 'SIGNATURE_INVALID');
  });

  it('a cosign.key with the wrong passphrase, or none, is KEY_INVALID (exit 2) before anything is downloaded', async () => {
    const dir = await mkdtemp(join(b.work, 'cosign-'));
    const cosign = makeCosignKeyPair(dir, 'right');
    for (const env of [{ COSIGN_PASSWORD: 'wrong' }, { AIRLOCK_KEY_PASSWORD: 'wrong', COSIGN_PASSWORD: 'right' }, {}]) {
      const r = await runCli(['bundle', 'export', '-f', join(b.work, 'mirror.yaml'), '-o', join(dir, 'x.tar'), '--key', cosign.key, '--no-cache', '--json'],
        { env: { AIRLOCK_KEY_PASSWORD: undefined, COSIGN_PASSWORD: undefined, ...env } });
      assert.equal(r.code, 2, r.stderr);
      assert.equal((JSON.parse(r.stdout) as JsonError).error.code, 'KEY_INVALID');
      assert.ok(!existsSync(join(dir, 'x.tar')));
    }
  });
});
