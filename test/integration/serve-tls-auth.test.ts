/**
 * Issue 23: `bundle serve` beyond loopback: HTTPS with --tls-cert/--tls-key and Basic auth with
 * --htpasswd (bcrypt entries made by Apache's `htpasswd -B`, as Docker Distribution takes them).
 * skopeo, the independent client, pulls through it with the CA and the password, and is refused
 * without the password or with a wrong one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveBundle, type ServeHandle } from '../../src/ops/index.js';
import { loadPublicKey } from '../../src/signing/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { describeResult, runCli } from '../../fixtures/harness/cli.js';
import { makeTestCa } from '../../fixtures/harness/registry.js';
import { makeSignedBundles, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';
import { skopeo } from '../../fixtures/harness/skopeo.js';

describe('bundle serve with TLS and basic auth', () => {
  let b: SignedBundles;
  let h: ServeHandle;
  let caDir: string;
  let htpasswd: string;
  let serverCert: string;
  let serverKey: string;
  let host: string;

  before(async () => {
    b = await makeSignedBundles();
    const tar = await b.exportTo(join(b.work, 'site.tar'));
    const ca = await makeTestCa(join(b.work, 'ca'));
    serverCert = join(ca.dir, 'server.crt');
    serverKey = join(ca.dir, 'server.key');
    // skopeo's --cert-dir with the CA only.
    caDir = join(b.work, 'trust');
    await mkdir(caDir);
    await copyFile(ca.caCert, join(caDir, 'ca.crt'));
    htpasswd = join(b.work, 'users.htpasswd');
    execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '5', htpasswd, 'alice', 'wonder land']);
    execFileSync('htpasswd', ['-b', '-B', '-C', '5', htpasswd, 'bob', 'builder']);
    h = await serveBundle({
      bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [await loadPublicKey(b.publicKey)], insecureSkipSignature: false },
      tlsCert: serverCert, tlsKey: serverKey, htpasswd,
    });
    host = h.url.replace(/^https:\/\//, '');
  });
  after(async () => {
    await h?.close();
    await b?.dispose();
  });

  it('serves HTTPS: skopeo with the CA and a user of the file copies an image, digests as in the bundle', async () => {
    assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const app = b.seeded.images.find((i) => i.repository === 'demo/app' && i.tag === '1.0')!;
    const out = join(b.work, 'pulled');
    await skopeo(['copy', '--all', '--preserve-digests', '--src-cert-dir', caDir, '--src-creds', 'alice:wonder land', `docker://${host}/demo/app:1.0`, `oci:${out}:x`]);
    const inspected = JSON.parse((await skopeo(['inspect', '--raw', '--cert-dir', caDir, '--creds', 'bob:builder', `docker://${host}/demo/app:1.0`])).stdout) as unknown;
    assert.ok(inspected);
    const digest = JSON.parse((await skopeo(['inspect', '--cert-dir', caDir, '--creds', 'bob:builder', `docker://${host}/demo/app:1.0`])).stdout) as { Digest: string };
    assert.equal(digest.Digest, app.digest);
  });

  it('refuses skopeo with no password, a wrong one, an unknown user, and a client that does not trust the CA', async () => {
    for (const creds of [[], ['--creds', 'alice:wrong'], ['--creds', 'mallory:wonder land']]) {
      await assert.rejects(skopeo(['inspect', '--cert-dir', caDir, ...creds, `docker://${host}/demo/app:1.0`]), /401|unauthorized|authentication required/i, creds.join(' '));
    }
    await assert.rejects(skopeo(['inspect', '--creds', 'alice:wonder land', `docker://${host}/demo/app:1.0`]), /certificate|x509/i);
    const anon = await fetch(`${h.url}/v2/`).catch((e: unknown) => e);
    assert.ok(anon instanceof Error, 'Node fetch does not trust the test CA either');
  });

  it('refuses a lone --tls-cert, a key that is not the certificate\'s, and an htpasswd entry that is not bcrypt (exit 2)', async () => {
    const tar = join(b.work, 'site.tar');
    await assertRejectsCode(serveBundle({ bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [], insecureSkipSignature: true }, tlsCert: serverCert }), 'USAGE');
    await assertRejectsCode(serveBundle({ bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [], insecureSkipSignature: true }, tlsCert: serverCert, tlsKey: join(b.work, 'ca', 'client.key') }), 'USAGE');
    const md5 = join(b.work, 'md5.htpasswd');
    await writeFile(md5, 'carol:$apr1$abcdefgh$0123456789abcdefghijkl\n');
    await assertRejectsCode(serveBundle({ bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [], insecureSkipSignature: true }, htpasswd: md5 }), 'USAGE');
    const r = await runCli(['bundle', 'serve', tar, '--key', b.publicKey, '--tls-key', serverKey, '--listen', '127.0.0.1:0', '--json']);
    assert.equal(r.code, 2, describeResult(r));
  });
});
