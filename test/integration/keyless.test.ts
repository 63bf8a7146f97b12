/**
 * Issue 20, keyless signing end to end: `export --keyless` gets a certificate from Fulcio, logs the
 * signature in Rekor and takes an RFC 3161 timestamp (Sigstore's own mocks, @sigstore/mock, served on
 * 127.0.0.1), then `bundle verify` and `bundle import` check it offline against a trusted root built
 * for those mocks, with cosign's identity and issuer flags. A wrong identity or issuer, or a tampered
 * bundle, fails with exit 3 and pushes nothing.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, jsonErrorCode, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { endpointOf } from '../../fixtures/harness/oci-http.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { startSigstoreMock, type SigstoreMock } from '../../fixtures/harness/sigstore-services.js';
import { listRepositories } from '../../fixtures/harness/validate.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

const IDENTITY = 'https://github.com/acme/release/.github/workflows/release.yml@refs/tags/v1.0.0';
const ISSUER = 'https://token.actions.githubusercontent.com';

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

function fails3(r: CliResult, code = 'SIGNATURE_INVALID'): void {
  assert.equal(r.code, 3, describeResult(r));
  assert.equal(jsonErrorCode(r), code, describeResult(r));
}

describe('keyless signing (issue 20)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let sigstore: SigstoreMock;
  let work: string;
  let bundle: string;
  let tokenPath: string;
  /** Ambient CI tokens of the machine running the tests must not leak in. */
  const noAmbient = { SIGSTORE_ID_TOKEN: '', ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' };

  const keylessFlags = (): string[] => ['--fulcio-url', sigstore.url, '--rekor-url', sigstore.url, '--tsa-url', sigstore.url];
  const trust = (...extra: string[]): string[] => ['--trusted-root', sigstore.trustedRootPath, ...extra];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-keyless-'));
    [upstream, site, sigstore] = await Promise.all([startRegistry(), startRegistry(), startSigstoreMock()]);
    await seedRegistry(upstream, 'small', { kinds: ['image'] });
    tokenPath = await sigstore.writeToken('token.jwt', { sub: IDENTITY, iss: ISSUER });
    await writeFile(join(work, 'mirror.yaml'), [
      'version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', `  - ${upstream.host}/demo/app:1.0`, '',
    ].join('\n'));
  });
  after(async () => {
    await Promise.all([upstream?.stop(), site?.stop(), sigstore?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signs a bundle keyless: Fulcio certificate, Rekor entry and a TSA timestamp in airlock.sigstore.json', async () => {
    bundle = join(work, 'keyless-bundle');
    const r = await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', bundle, '--cache', join(work, 'cache'),
      '--keyless', '--identity-token', tokenPath, ...keylessFlags(), '--json'], { env: noAmbient });
    ok(r);
    assert.equal(parseJsonOutput<{ signed: boolean }>(r).signed, true);
    const sig = JSON.parse(await readFile(join(bundle, 'airlock.sigstore.json'), 'utf8')) as {
      verificationMaterial: { certificate?: unknown; tlogEntries: unknown[]; timestampVerificationData?: { rfc3161Timestamps: unknown[] } };
      dsseEnvelope?: unknown;
    };
    assert.ok(sig.verificationMaterial.certificate, 'a Fulcio certificate, not a key hint');
    assert.equal(sig.verificationMaterial.tlogEntries.length, 1);
    assert.equal(sig.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);
    assert.ok(sig.dsseEnvelope);
    for (const path of ['/api/v2/signingCert', '/api/v1/log/entries', '/api/v1/timestamp']) assert.equal(sigstore.requests.get(path), 1, path);
  });

  it('verifies offline with the trusted root, by exact identity and issuer and by cosign-style (unanchored) patterns', async () => {
    const before = [...sigstore.requests.values()].reduce((a, b) => a + b, 0);
    for (const flags of [
      ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER],
      ['--certificate-identity-regexp', 'acme/release', '--certificate-oidc-issuer', ISSUER],
      ['--certificate-identity-regexp', '^https://github\\.com/acme/.*@refs/tags/v1\\.', '--certificate-oidc-issuer-regexp', 'githubusercontent'],
    ]) {
      const r = await runCli(['bundle', 'verify', bundle, ...trust(...flags), '--json']);
      ok(r);
      const doc = parseJsonOutput<{ signature: { verified: boolean; method: string; signer: string; issuer: string } }>(r);
      assert.deepEqual([doc.signature.verified, doc.signature.method, doc.signature.signer, doc.signature.issuer], [true, 'keyless', IDENTITY, ISSUER]);
    }
    assert.equal([...sigstore.requests.values()].reduce((a, b) => a + b, 0), before, 'verification went to no Sigstore service');
  });

  it('refuses a wrong identity, a partial exact identity, an anchored pattern that does not match, and a wrong issuer (exit 3)', async () => {
    for (const flags of [
      ['--certificate-identity', 'https://github.com/evil/release/.github/workflows/release.yml@refs/tags/v1.0.0', '--certificate-oidc-issuer', ISSUER],
      ['--certificate-identity', 'acme/release', '--certificate-oidc-issuer', ISSUER],
      ['--certificate-identity-regexp', '^acme/release', '--certificate-oidc-issuer', ISSUER],
      ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', 'https://accounts.google.com'],
      ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer-regexp', '^https://accounts\\.'],
    ]) {
      fails3(await runCli(['bundle', 'verify', bundle, ...trust(...flags), '--json']));
    }
    // Import refuses the same way, before anything is pushed.
    fails3(await runCli(['bundle', 'import', bundle, '--to', `${site.host}/wrong-issuer`, '--dest-tls-verify=false',
      ...trust('--certificate-identity', IDENTITY, '--certificate-oidc-issuer', 'https://accounts.google.com'),
      '--out-dir', join(work, 'out-wrong'), '--state-dir', join(work, 'state-wrong'), '--json']));
    assert.ok(!(await listRepositories(endpointOf(site))).some((r) => r.startsWith('wrong-issuer/')), 'nothing pushed');
    // Without a trusted root there is nothing to check a certificate against (SIGNATURE_UNVERIFIED
    // once the branch that tells "nothing to verify with" from "bad signature" is in).
    const none = await runCli(['bundle', 'verify', bundle, '--json']);
    assert.equal(none.code, 3, describeResult(none));
    assert.ok(['SIGNATURE_INVALID', 'SIGNATURE_UNVERIFIED'].includes(jsonErrorCode(none) ?? ''), describeResult(none));
  });

  it('imports offline into a real registry with the keyless policy; digests as upstream', async () => {
    const r = await runCli(['bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--dest-tls-verify=false',
      ...trust('--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER),
      '--out-dir', join(work, 'out'), '--state-dir', join(work, 'state'), '--json']);
    ok(r);
    const up = await skopeoInspectRaw(`docker://${upstream.host}/demo/app:1.0`, upstream);
    const down = await skopeoInspectRaw(`docker://${site.host}/mirror/demo/app:1.0`, site);
    assert.ok(up.equals(down), 'the imported manifest is byte for byte the upstream one');
  });

  it('refuses a tampered keyless bundle at verify and import, pushing nothing (exit 3)', async () => {
    const policy = trust('--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER);
    // 1. airlock.json changed after signing.
    const t1 = join(work, 'tampered-manifest');
    await cp(bundle, t1, { recursive: true });
    const aj = await readFile(join(t1, 'airlock.json'), 'utf8');
    await writeFile(join(t1, 'airlock.json'), aj.replace('"created": "', '"created": "1'));
    // 2. The DSSE payload swapped for another statement (the signature no longer matches).
    const t2 = join(work, 'tampered-envelope');
    await cp(bundle, t2, { recursive: true });
    const sig = JSON.parse(await readFile(join(t2, 'airlock.sigstore.json'), 'utf8')) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(sig.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: { toolVersion: string } };
    statement.predicate.toolVersion = '9.9.9';
    sig.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    await writeFile(join(t2, 'airlock.sigstore.json'), JSON.stringify(sig));
    for (const t of [t1, t2]) {
      fails3(await runCli(['bundle', 'verify', t, ...policy, '--json']));
      fails3(await runCli(['bundle', 'import', t, '--to', `${site.host}/tampered`, '--dest-tls-verify=false', ...policy,
        '--out-dir', join(work, 'out-t'), '--state-dir', join(work, 'state-t'), '--json']));
    }
    const repos = await listRepositories(endpointOf(site));
    assert.ok(!repos.some((r) => r.startsWith('tampered/')), `nothing pushed: ${repos.join(', ')}`);
  });

  it('checks the new signature against export --trusted-root before writing: another instance\'s root stops it (exit 3, no bundle)', async () => {
    const other = await startSigstoreMock();
    try {
      const out = join(work, 'checked.tar');
      ok(await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', out, '--cache', join(work, 'cache'),
        '--keyless', '--identity-token', tokenPath, ...keylessFlags(), '--trusted-root', sigstore.trustedRootPath, '--json'], { env: noAmbient }));
      const wrong = join(work, 'wrong-root.tar');
      const r = await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', wrong, '--cache', join(work, 'cache'),
        '--keyless', '--identity-token', tokenPath, ...keylessFlags(), '--trusted-root', other.trustedRootPath, '--json'], { env: noAmbient });
      fails3(r);
      await assert.rejects(stat(wrong), 'no bundle was written');
    } finally {
      await other.stop();
    }
  });

  it('takes the ambient token from SIGSTORE_ID_TOKEN, and without any token refuses before downloading (exit 2)', async () => {
    const r = await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', join(work, 'ambient.tar'), '--cache', join(work, 'cache'),
      '--keyless', ...keylessFlags(), '--json'], { env: { ...noAmbient, SIGSTORE_ID_TOKEN: sigstore.token({ sub: 'ci@example.com', iss: ISSUER }) } });
    ok(r);
    ok(await runCli(['bundle', 'verify', join(work, 'ambient.tar'), ...trust('--certificate-identity', 'ci@example.com', '--certificate-oidc-issuer', ISSUER), '--json']));
    const none = await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', join(work, 'none.tar'), '--cache', join(work, 'cache'),
      '--keyless', ...keylessFlags(), '--json'], { env: noAmbient });
    assert.equal(none.code, 2, describeResult(none));
    assert.equal(jsonErrorCode(none), 'USAGE');
    const badFile = await runCli(['bundle', 'export', '-f', join(work, 'mirror.yaml'), '-o', join(work, 'bad.tar'),
      '--keyless', '--identity-token', join(work, 'mirror.yaml'), ...keylessFlags(), '--json'], { env: noAmbient });
    assert.equal(badFile.code, 2, describeResult(badFile));
  });
});
