/**
 * Issue 20, "trust material travels": vendor signatures stored as cosign v3 stores them (a Sigstore
 * bundle in an OCI referrer, artifactType application/vnd.dev.sigstore.bundle.v0.3+json) are
 * discovered and verified at export, carried with the trusted root that verified them inside the
 * signed airlock.json, and re-verified offline at import with that root; a site's own
 * --trusted-root wins over the carried one.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleToJSON } from '@sigstore/bundle';
import sigstoreSign from '@sigstore/sign';
import { MEDIA_TYPE_IN_TOTO, MEDIA_TYPE_SIGSTORE_BUNDLE_V03 } from '../../src/oci/index.js';
import { describeResult, jsonErrorCode, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { endpointOf } from '../../fixtures/harness/oci-http.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { startSigstoreMock, type SigstoreMock } from '../../fixtures/harness/sigstore-services.js';
import { pushSigstoreBundleReferrer, signKeylessFor, type Subject } from '../../fixtures/harness/sigstore-referrer.js';
import { getManifest, hasManifest, listRepositories } from '../../fixtures/harness/validate.js';

const VENDOR = 'https://github.com/vendor/app/.github/workflows/release.yml@refs/tags/v1.0';
const ISSUER = 'https://token.actions.githubusercontent.com';

interface UpstreamRecord { verified: boolean; method: string; signer: string; trustedRootJson?: string }
interface Artifact { kind: string; source: string; digest: string; artifactType?: string; subject?: string; upstreamSignature?: UpstreamRecord }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('vendor Sigstore bundle referrers and the carried trusted root (issue 20)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let vendorSigstore: SigstoreMock;
  let otherSigstore: SigstoreMock;
  let work: string;
  let bundle: string;
  let app: Subject;
  let api: Subject;
  let keylessRef: Subject;
  let carriedRootPath: string;

  const mirror = async (name: string, entries: string[]): Promise<string> => {
    const p = join(work, `${name}.yaml`);
    await writeFile(p, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', ...entries, ''].join('\n'));
    return p;
  };
  const exportArgs = (m: string, out: string): string[] =>
    ['bundle', 'export', '-f', m, '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--json'];
  const importArgs = (prefix: string, ...extra: string[]): string[] => [
    'bundle', 'import', bundle, '--to', `${site.host}/${prefix}`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
    '--require-upstream-signatures', '--out-dir', join(work, `out-${prefix}`), '--state-dir', join(work, `state-${prefix}`), '--json', ...extra,
  ];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-upstream-sigstore-'));
    [upstream, site, vendorSigstore, otherSigstore] = await Promise.all([startRegistry(), startRegistry(), startSigstoreMock(), startSigstoreMock()]);
    await seedRegistry(upstream, 'small', { kinds: ['image'] });
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    const ep = endpointOf(upstream);
    const subjectOf = async (repo: string, tag: string): Promise<Subject> => {
      const m = await getManifest(ep, repo, tag);
      assert.ok(m);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    };
    app = await subjectOf('demo/app', '1.0');
    api = await subjectOf('demo/app-api', '1.0');
    // demo/app:1.0 signed keyless by the vendor's release workflow, as `cosign sign` v3 stores it.
    keylessRef = await pushSigstoreBundleReferrer(upstream, 'demo/app', app, await signKeylessFor(vendorSigstore, app, { sub: VENDOR, iss: ISSUER }));
    // demo/app-api signed with the vendor's key (`cosign sign --key`, new bundle format): a public-key hint, no certificate.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await writeFile(join(work, 'vendor.pub'), pem);
    const statement = Buffer.from(JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'image', digest: { sha256: api.digest.slice(7) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {},
    }));
    const keyBundle = await new sigstoreSign.DSSEBundleBuilder({
      signer: { sign: async (data: Buffer) => ({ signature: cryptoSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: pem, hint: 'vendor' } }) },
      witnesses: [],
    }).create({ data: statement, type: MEDIA_TYPE_IN_TOTO });
    await pushSigstoreBundleReferrer(upstream, 'demo/app-api', api, Buffer.from(JSON.stringify(bundleToJSON(keyBundle))));
    // The root is read at export from here; it is moved away before import to show the carried copy is what is used.
    carriedRootPath = join(work, 'vendor_trusted_root.json');
    await writeFile(carriedRootPath, await readFile(vendorSigstore.trustedRootPath));
  });
  after(async () => {
    await Promise.all([upstream?.stop(), site?.stop(), vendorSigstore?.stop(), otherSigstore?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('discovers and verifies Sigstore bundle referrers at export (keyless and key), carrying them and the trusted root', async () => {
    const m = await mirror('good', [
      `  - ref: ${upstream.host}/demo/app:1.0`,
      // cosign-style unanchored patterns, carried as such and matched again at import
      `    verify: { keyless: { issuerRegexp: "githubusercontent", identityRegexp: "/vendor/app/", trustedRoot: ${carriedRootPath} } }`,
      `  - ref: ${upstream.host}/demo/app-api:1.0`,
      `    verify: { key: ${join(work, 'vendor.pub')} }`,
    ]);
    bundle = join(work, 'good.tar');
    const r = await runCli(exportArgs(m, bundle));
    ok(r);
    const arts = parseJsonOutput<{ artifacts: Artifact[] }>(r).artifacts;
    const a = arts.find((x) => x.kind === 'image' && x.source.includes('demo/app:1.0'));
    assert.deepEqual([a?.upstreamSignature?.verified, a?.upstreamSignature?.method, a?.upstreamSignature?.signer], [true, 'sigstore-bundle-keyless', VENDOR]);
    assert.ok(a?.upstreamSignature?.trustedRootJson?.includes('trustedroot'), 'the trusted root travels in the signed airlock.json');
    const k = arts.find((x) => x.kind === 'image' && x.source.includes('demo/app-api:1.0'));
    assert.deepEqual([k?.upstreamSignature?.verified, k?.upstreamSignature?.method], [true, 'sigstore-bundle-key']);
    const ref = arts.find((x) => x.kind === 'referrer' && x.digest === keylessRef.digest);
    assert.equal(ref?.artifactType, MEDIA_TYPE_SIGSTORE_BUNDLE_V03, 'the signature referrer itself travels');
    assert.equal(ref?.subject, app.digest);
  });

  it('takes export --trusted-root for keyless entries that name no root of their own', async () => {
    const m = await mirror('default-root', [`  - ref: ${upstream.host}/demo/app:1.0`, `    verify: { keyless: { issuer: "${ISSUER}", identity: "${VENDOR}" } }`]);
    const without = await runCli(exportArgs(m, join(work, 'no-root.tar')));
    assert.equal(without.code, 2, describeResult(without));
    assert.equal(jsonErrorCode(without), 'MIRROR_INVALID');
    const r = await runCli([...exportArgs(m, join(work, 'default-root.tar')), '--trusted-root', vendorSigstore.trustedRootPath]);
    ok(r);
    const a = parseJsonOutput<{ artifacts: Artifact[] }>(r).artifacts.find((x) => x.kind === 'image');
    assert.equal(a?.upstreamSignature?.method, 'sigstore-bundle-keyless');
    assert.equal(a?.upstreamSignature?.trustedRootJson, await readFile(vendorSigstore.trustedRootPath, 'utf8'), 'the root used at export is the one carried');
  });

  it('refuses at export a Sigstore bundle by another identity, or under another root (exit 3)', async () => {
    for (const verify of [
      `{ keyless: { issuer: "${ISSUER}", identity: "https://github.com/evil/app/.github/workflows/release.yml@refs/tags/v1.0", trustedRoot: ${carriedRootPath} } }`,
      `{ keyless: { issuer: "${ISSUER}", identity: "${VENDOR}", trustedRoot: ${otherSigstore.trustedRootPath} } }`,
    ]) {
      const m = await mirror('bad', [`  - ref: ${upstream.host}/demo/app:1.0`, `    verify: ${verify}`]);
      const r = await runCli(exportArgs(m, join(work, 'bad.tar')));
      assert.equal(r.code, 3, describeResult(r));
      assert.equal(jsonErrorCode(r), 'UPSTREAM_SIGNATURE_INVALID');
    }
  });

  it('re-verifies offline at import with the carried root (the original file is gone) and pushes the referrer', async () => {
    await rename(carriedRootPath, `${carriedRootPath}.moved`);
    ok(await runCli(['bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--upstream', '--json']));
    ok(await runCli(importArgs('carried')));
    const ep = endpointOf(site);
    assert.ok(await hasManifest(ep, 'carried/demo/app', keylessRef.digest), 'the Sigstore bundle referrer is in the target');
    assert.ok(await hasManifest(ep, 'carried/demo/app', app.digest));
  });

  it('lets the site\'s own --trusted-root win over the carried one: another root refuses (exit 3, nothing pushed), the right one passes', async () => {
    const v = await runCli(['bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--upstream', '--trusted-root', otherSigstore.trustedRootPath, '--json']);
    assert.equal(v.code, 3, describeResult(v));
    assert.equal(jsonErrorCode(v), 'UPSTREAM_SIGNATURE_INVALID');
    const r = await runCli(importArgs('own-root-wrong', '--trusted-root', otherSigstore.trustedRootPath));
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(jsonErrorCode(r), 'UPSTREAM_SIGNATURE_INVALID');
    assert.ok(!(await listRepositories(endpointOf(site))).some((x) => x.startsWith('own-root-wrong/')), 'nothing pushed');
    ok(await runCli(importArgs('own-root-right', '--trusted-root', vendorSigstore.trustedRootPath)));
  });
});
