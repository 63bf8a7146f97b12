/**
 * Issue 6, vendor signatures end to end: a mirror-list entry with `verify: { key }` must be signed by
 * that key or the export fails naming the image (exit 3); the evidence travels inside the signed
 * bundle, and `bundle verify --upstream` / `import --require-upstream-signatures` re-check it offline.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, jsonErrorCode, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { seedRegistry, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

interface UpstreamRecord { verified: boolean; method: string; signer: string; evidence?: unknown[] }
interface Artifact { kind: string; source: string; digest: string; upstreamSignature?: UpstreamRecord }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('vendor signatures across the gap (issue 6)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let seeded: SeedResult;
  let work: string;
  let bundle: string;

  const mirrorFor = async (name: string, entries: string[]): Promise<string> => {
    const p = join(work, `${name}.yaml`);
    await writeFile(p, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', ...entries, ''].join('\n'));
    return p;
  };
  const exportArgs = (mirror: string, out: string): string[] =>
    ['bundle', 'export', '-f', mirror, '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--json'];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-upstream-sig-'));
    upstream = await startRegistry();
    site = await startRegistry();
    seeded = await seedRegistry(upstream, 'small');
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    ok(await runCli(['keys', 'generate', '--out', join(work, 'other')]));
  });
  after(async () => {
    await Promise.all([upstream?.stop(), site?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('exports an image signed by the vendor key and records the check in airlock.json', async () => {
    const mirror = await mirrorFor('good', [`  - ref: ${upstream.host}/demo/app:1.0`, `    verify: { key: ${seeded.fixtures.publicKeyPath} }`]);
    bundle = join(work, 'good.tar');
    const r = await runCli(exportArgs(mirror, bundle));
    ok(r);
    const doc = parseJsonOutput<{ artifacts: Artifact[] }>(r);
    const app = doc.artifacts.find((a) => a.kind === 'image' && a.source.includes('demo/app:1.0'));
    assert.ok(app?.upstreamSignature, 'the image carries its vendor signature record');
    assert.equal(app.upstreamSignature.verified, true);
    assert.equal(app.upstreamSignature.method, 'cosign-key');
    assert.ok((app.upstreamSignature.evidence ?? []).length > 0, 'the signed payload travels in airlock.json');
    assert.ok(doc.artifacts.some((a) => a.kind === 'referrer' && a.source.includes('.sig')), 'the .sig artifact travels too');
  });

  it('fails with exit 3 naming the image when the image is not signed', async () => {
    const mirror = await mirrorFor('unsigned', [`  - ref: ${upstream.host}/demo/app:2.0`, `    verify: { key: ${seeded.fixtures.publicKeyPath} }`]);
    const r = await runCli(exportArgs(mirror, join(work, 'unsigned.tar')));
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(jsonErrorCode(r), 'UPSTREAM_SIGNATURE_INVALID');
    assert.match(r.stdout + r.stderr, /demo\/app:2\.0/);
  });

  it('fails with exit 3 naming the image when the signature is by another key', async () => {
    const mirror = await mirrorFor('other-key', [`  - ref: ${upstream.host}/demo/app:1.0`, `    verify: { key: ${join(work, 'other.pub')} }`]);
    const r = await runCli(exportArgs(mirror, join(work, 'other.tar')));
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(jsonErrorCode(r), 'UPSTREAM_SIGNATURE_INVALID');
    assert.match(r.stdout + r.stderr, /demo\/app:1\.0/);
  });

  it('re-checks the vendor signature offline at verify and before import pushes', async () => {
    ok(await runCli(['bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--upstream', '--json']));
    const r = await runCli([
      'bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--require-upstream-signatures', '--out-dir', join(work, 'out'), '--state-dir', join(work, 'state'), '--json',
    ]);
    ok(r);
    const map = JSON.parse(await readFile(join(work, 'out', 'image-map.json'), 'utf8')) as { images: { source: string; digest: string }[] };
    assert.ok(map.images.some((i) => i.source.includes('demo/app:1.0')));
  });
});
