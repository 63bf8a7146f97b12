/**
 * Issue 20, the offline policy gate at import (`--policy FILE`): one bundle exported from a real
 * registry holding a cosign-signed image with an SPDX SBOM referrer and a SLSA provenance attestation
 * (a Sigstore bundle referrer, as cosign v3 `attest` writes it), a keyless-signed image, and a
 * two-platform index. For every rule kind a policy that passes imports into a real registry (the
 * decision lands in receipt.json), and one that fails exits 3 naming every refused artifact, with
 * nothing pushed. `--dry-run` and `inspect --policy` show the decisions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, jsonErrorCode, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { seedRegistry, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { endpointOf } from '../../fixtures/harness/oci-http.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { startSigstoreMock, type SigstoreMock } from '../../fixtures/harness/sigstore-services.js';
import { pushSigstoreBundleReferrer, signKeylessFor, SLSA_PROVENANCE_V1, type Subject } from '../../fixtures/harness/sigstore-referrer.js';
import { getManifest, listRepositories } from '../../fixtures/harness/validate.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

const VENDOR = 'https://github.com/vendor/api/.github/workflows/release.yml@refs/tags/v1.0';
const ISSUER = 'https://token.actions.githubusercontent.com';

interface Decision {
  policy: string; digest: string; allowed: boolean;
  artifacts: { source: string; allowed: boolean; checks: { rule: number; kind: string; passed: boolean; detail: string }[] }[];
}
interface JsonError { error: { code: string; problems?: { message: string }[] } }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('import --policy: the offline policy gate (issue 20)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let sigstore: SigstoreMock;
  let seeded: SeedResult;
  let work: string;
  let bundle: string;
  let host: string;
  let n = 0;

  const policyFile = async (rules: string[]): Promise<string> => {
    const p = join(work, `policy-${++n}.yaml`);
    await writeFile(p, ['version: 1', 'rules:', ...rules, ''].join('\n'));
    return p;
  };
  const importWith = (policy: string, prefix: string, ...extra: string[]): Promise<CliResult> => runCli([
    'bundle', 'import', bundle, '--to', `${site.host}/${prefix}`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
    '--policy', policy, '--out-dir', join(work, `out-${prefix}`), '--state-dir', join(work, `state-${prefix}`), '--json', ...extra,
  ]);
  const nothingPushed = async (prefix: string): Promise<void> => {
    const repos = await listRepositories(endpointOf(site));
    assert.ok(!repos.some((r) => r.startsWith(`${prefix}/`)), `nothing pushed under ${prefix}/: ${repos.join(', ')}`);
  };
  /** A passing import: exit 0, the decision in receipt.json with the policy's digest. */
  const passes = async (rules: string[], prefix: string): Promise<Decision> => {
    const p = await policyFile(rules);
    ok(await importWith(p, prefix));
    const receipt = JSON.parse(await readFile(join(work, `out-${prefix}`, 'receipt.json'), 'utf8')) as { policy?: Decision };
    assert.equal(receipt.policy?.allowed, true);
    assert.match(receipt.policy?.digest ?? '', /^sha256:[a-f0-9]{64}$/);
    return receipt.policy!;
  };
  /** A failing import: exit 3 POLICY_VIOLATION naming each refused source, nothing pushed. */
  const fails = async (rules: string[], prefix: string, refused: string[]): Promise<void> => {
    const p = await policyFile(rules);
    const r = await importWith(p, prefix);
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(jsonErrorCode(r), 'POLICY_VIOLATION');
    const problems = (JSON.parse(r.stdout) as JsonError).error.problems ?? [];
    assert.equal(problems.length, refused.length, describeResult(r));
    for (const name of refused) assert.ok(problems.some((x) => x.message.includes(name)), `${name} is listed: ${describeResult(r)}`);
    await nothingPushed(prefix);
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
    [upstream, site, sigstore] = await Promise.all([startRegistry(), startRegistry(), startSigstoreMock()]);
    host = upstream.host;
    seeded = await seedRegistry(upstream, 'small', { kinds: ['image', 'index', 'signature', 'sbom'] });
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    const ep = endpointOf(upstream);
    const subjectOf = async (repo: string, tag: string): Promise<Subject> => {
      const m = await getManifest(ep, repo, tag);
      assert.ok(m);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    };
    const app = await subjectOf('demo/app', '1.0');
    const api = await subjectOf('demo/app-api', '1.0');
    // demo/app:1.0: a SLSA provenance attestation, as `cosign attest` v3 stores it.
    await pushSigstoreBundleReferrer(upstream, 'demo/app', app, await signKeylessFor(sigstore, app, { sub: VENDOR, iss: ISSUER }, SLSA_PROVENANCE_V1), SLSA_PROVENANCE_V1);
    // demo/app-api:1.0: signed keyless by the vendor's workflow.
    await pushSigstoreBundleReferrer(upstream, 'demo/app-api', api, await signKeylessFor(sigstore, api, { sub: VENDOR, iss: ISSUER }));
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1', 'defaults: { referrers: true }', 'registries:', `  ${host}: { tls: plain-http }`, 'images:',
      `  - ref: ${host}/demo/app:1.0`, `    verify: { key: ${seeded.fixtures.publicKeyPath} }`,
      `  - ref: ${host}/demo/app-api:1.0`, `    verify: { keyless: { issuer: "${ISSUER}", identity: "${VENDOR}", trustedRoot: ${sigstore.trustedRootPath} } }`,
      `  - ${host}/demo/multi:1.0`, '',
    ].join('\n'));
    bundle = join(work, 'bundle.tar');
    ok(await runCli(['bundle', 'export', '-f', mirror, '-o', bundle, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--json']));
  });
  after(async () => {
    await Promise.all([upstream?.stop(), site?.stop(), sigstore?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signature by key: passes for the cosign-signed image, refuses the ones the key did not sign', async () => {
    const d = await passes(['  - kind: signature', `    sources: ${host}/demo/app`, `    key: ${seeded.fixtures.publicKeyPath}`], 'sig-key-pass');
    assert.match(d.artifacts.find((a) => a.source.includes('demo/app:1.0'))?.checks[0]?.detail ?? '', /re-verified offline/);
    await fails(['  - kind: signature', `    sources: ${host}/demo/*`, `    key: ${seeded.fixtures.publicKeyPath}`], 'sig-key-fail', ['demo/app-api:1.0', 'demo/multi:1.0']);
  });

  it('signature by identity (keyless): passes for the vendor workflow, refuses another identity', async () => {
    await passes(['  - kind: signature', `    sources: [${host}/demo/app-api]`, `    keyless: { identity: "${VENDOR}", issuer: "${ISSUER}" }`], 'sig-id-pass');
    await fails(['  - kind: signature', `    sources: [${host}/demo/app-api]`, `    keyless: { identityRegexp: "^https://github\\\\.com/other/", issuer: "${ISSUER}" }`], 'sig-id-fail', ['demo/app-api:1.0']);
  });

  it('sbom: passes for the image with an SPDX referrer, refuses those without', async () => {
    await passes(['  - kind: sbom', `    sources: ${host}/demo/app`], 'sbom-pass');
    await fails(['  - kind: sbom', `    sources: "${host}/**"`], 'sbom-fail', ['demo/app-api:1.0', 'demo/multi:1.0']);
  });

  it('provenance: passes for the image with a SLSA attestation referrer, refuses one without', async () => {
    const d = await passes(['  - kind: provenance', `    sources: ${host}/demo/app`], 'prov-pass');
    assert.match(d.artifacts.find((a) => a.source.includes('demo/app:1.0'))?.checks[0]?.detail ?? '', /slsa\.dev\/provenance/);
    await fails(['  - kind: provenance', `    sources: ${host}/demo/app-api`], 'prov-fail', ['demo/app-api:1.0']);
  });

  it('registries: passes when the source registry is allowed, refuses every artifact of one that is not', async () => {
    await passes(['  - kind: registries', `    allow: ["${host}"]`], 'reg-pass');
    await fails(['  - kind: registries', '    allow: [ghcr.io, "*.example.com"]'], 'reg-fail', ['demo/app:1.0', 'demo/app-api:1.0', 'demo/multi:1.0']);
  });

  it('platforms: passes when every platform is allowed, refuses the index with a platform outside the set', async () => {
    await passes(['  - kind: platforms', '    allow: [linux/amd64, linux/arm64]'], 'plat-pass');
    // What passed is in the target byte for byte (skopeo judges).
    const up = await skopeoInspectRaw(`docker://${host}/demo/multi:1.0`, upstream);
    assert.ok(up.equals(await skopeoInspectRaw(`docker://${site.host}/plat-pass/demo/multi:1.0`, site)));
    await fails(['  - kind: platforms', '    allow: [linux/amd64]'], 'plat-fail', ['demo/multi:1.0']);
  });

  it('--dry-run and inspect --policy show every decision without refusing; a bad policy is exit 2 at file:line:col', async () => {
    const p = await policyFile(['  - kind: platforms', '    allow: [linux/amd64]', '  - kind: registries', `    allow: ["${host}"]`]);
    const dry = await importWith(p, 'dry', '--dry-run');
    ok(dry);
    const d = parseJsonOutput<{ policy: Decision }>(dry).policy;
    assert.equal(d.allowed, false);
    assert.deepEqual(d.artifacts.filter((a) => !a.allowed).map((a) => a.source.replace(/@.*/, '')), [`${host}/demo/multi:1.0`]);
    assert.equal(d.artifacts.find((a) => a.source.includes('demo/app:1.0'))?.checks.length, 2);
    await nothingPushed('dry');
    const insp = await runCli(['bundle', 'inspect', bundle, '--policy', p, '--json']);
    ok(insp);
    assert.deepEqual(parseJsonOutput<{ policy: Decision }>(insp).policy, d);
    const text = await runCli(['bundle', 'inspect', bundle, '--policy', p]);
    ok(text);
    assert.match(text.stdout, /REFUSE/);
    const bad = await policyFile(['  - kind: platform', '    allow: [linux/amd64]', '  - kind: signature', '    sources: x']);
    const r = await importWith(bad, 'bad');
    assert.equal(r.code, 2, describeResult(r));
    assert.equal(jsonErrorCode(r), 'POLICY_INVALID');
    const problems = (JSON.parse(r.stdout) as { error: { problems: { where: string }[] } }).error.problems;
    assert.deepEqual(problems.map((x) => x.where.replace(/^.*policy-\d+\.yaml/, '')), [':3:11', ':5:5']);
    await nothingPushed('bad');
  });
});
