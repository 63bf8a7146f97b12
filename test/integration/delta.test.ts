/**
 * Issue 7, delta bundles, end to end through the built CLI against real Distribution registries,
 * with skopeo as the independent judge. Fixtures: the `small` profile's demo/app:1.0 and 2.0 (2.0
 * keeps 1.0's bottom three layers) and demo/app-api:1.0 (shares the bottom two).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listTar } from '../../fixtures/generate/index.js';
import { digestOf, type Digest } from '../../src/oci/index.js';
import type { AirlockManifest } from '../../src/bundle/index.js';
import { exportBundle, importBundle, type ExportOptions, type ExportResult, type ImportOptions, type ImportResult } from '../../src/ops/index.js';
import { generateKeyPair, loadPublicKey, writeKeyPair, type SignaturePolicy } from '../../src/signing/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeo, skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

const CLI = fileURLToPath(new URL('../../../bin/airlock.js', import.meta.url));
const MiB = 1024 * 1024;

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown>;
}

function airlock(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        /* not JSON: asserted by the caller through `code` */
      }
      resolve({ code: code ?? 1, stdout, stderr, json });
    });
  });
}

async function ok(args: readonly string[]): Promise<CliRun> {
  const r = await airlock(args);
  assert.equal(r.code, 0, `airlock ${args.slice(0, 2).join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const errorOf = (r: CliRun): { code: string; hint?: string; message: string; where?: string } =>
  (r.json as { error: { code: string; hint?: string; message: string; where?: string } }).error;

/** airlock.json and the blob entries of an uncompressed bundle tar. */
async function readTarBundle(path: string): Promise<{ manifest: AirlockManifest; id: Digest; blobs: Map<Digest, number>; fileSize: number; airlockRaw: Buffer }> {
  const buf = await readFile(path);
  const entries = listTar(buf);
  const airlock = entries.find((e) => e.path === 'airlock.json')!;
  const blobs = new Map<Digest, number>();
  for (const e of entries) if (e.path.startsWith('blobs/sha256/') && e.type === '0') blobs.set(`sha256:${e.path.slice(13)}` as Digest, e.size);
  const airlockRaw = Buffer.from(airlock.data);
  return { manifest: JSON.parse(airlockRaw.toString('utf8')) as AirlockManifest, id: digestOf(airlockRaw), blobs, fileSize: buf.length, airlockRaw };
}

/** Every blob of an image as skopeo sees it: the manifest itself, its config and its layers. */
async function skopeoBlobs(ref: string, reg: TestRegistry): Promise<Map<Digest, number>> {
  const raw = await skopeoInspectRaw(`docker://${ref}`, reg);
  const m = JSON.parse(raw.toString('utf8')) as { config: { digest: Digest; size: number }; layers: { digest: Digest; size: number }[] };
  return new Map<Digest, number>([[digestOf(raw), raw.length], [m.config.digest, m.config.size], ...m.layers.map((l) => [l.digest, l.size] as const)]);
}

async function tagDigest(reg: TestRegistry, repo: string, tag: string): Promise<Digest> {
  return digestOf(await skopeoInspectRaw(`docker://${reg.host}/${repo}:${tag}`, reg));
}

async function catalog(reg: TestRegistry): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/_catalog`);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

const sum = (m: ReadonlyMap<Digest, number>, keep: (d: Digest) => boolean = () => true): number =>
  [...m].filter(([d]) => keep(d)).reduce((s, [, n]) => s + n, 0);

describe('delta bundles (issue 7)', () => {
  let work: string;
  let upstream: TestRegistry;
  const registries: TestRegistry[] = [];
  const list: Record<'set1' | 'set2' | 'set3', string> = { set1: '', set2: '', set3: '' };
  const cache = (): string[] => ['--cache', join(work, 'cache')];
  let dmz: { key: string; pub: string };
  let site: { key: string; pub: string };
  let other: { key: string; pub: string };
  const bundles = { full1: '', d2: '', full2: '', d3: '', full3: '' };
  let stateN = 0;
  let policy: SignaturePolicy;

  const newRegistry = async (): Promise<TestRegistry> => {
    const r = await startRegistry();
    registries.push(r);
    return r;
  };
  // Most steps run in-process (a CLI spawn costs ~1 s here); the CLI runs where its flags, exit
  // codes and JSON are what is under test.
  const exportTo = (name: string, set: keyof typeof list, extra: Partial<ExportOptions> = {}): Promise<ExportResult> =>
    exportBundle({ files: [list[set]], output: join(work, name), signKey: dmz.key, cacheDir: join(work, 'cache'), ...extra });
  const importTo = (bundle: string, reg: TestRegistry, extra: Partial<ImportOptions> = {}): Promise<ImportResult> => {
    stateN++;
    return importBundle({
      bundles: [bundle], to: reg.host, signature: policy, dest: { tls: 'plain-http' },
      stateDir: join(work, `state-${stateN}`), outDir: join(work, `out-${stateN}`), ...extra,
    });
  };
  const importArgs = (bundle: string, reg: TestRegistry, extra: readonly string[] = []): string[] => {
    stateN++;
    return [
      'bundle', 'import', bundle, '--to', reg.host, '--dest-tls-verify=false', '--verify-key', dmz.pub,
      '--state-dir', join(work, `state-${stateN}`), '--out-dir', join(work, `out-${stateN}`), ...extra,
    ];
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-delta-'));
    upstream = await newRegistry();
    await seedRegistry(upstream, 'small', { kinds: ['image'] });
    const mirror = async (name: string, refs: readonly string[]): Promise<string> => {
      const p = join(work, `${name}.yaml`);
      await writeFile(p, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', ...refs.map((r) => `  - ${upstream.host}/${r}`), ''].join('\n'));
      return p;
    };
    list.set1 = await mirror('set1', ['demo/app:1.0']);
    list.set2 = await mirror('set2', ['demo/app:2.0']);
    list.set3 = await mirror('set3', ['demo/app:2.0', 'demo/app-api:1.0']);
    const keys = async (name: string): Promise<{ key: string; pub: string }> => {
      const p = await writeKeyPair(join(work, name), await generateKeyPair());
      return { key: p.keyPath, pub: p.pubPath };
    };
    [dmz, site, other] = await Promise.all([keys('dmz'), keys('site'), keys('other')]);
    policy = { keys: [await loadPublicKey(dmz.pub)], insecureSkipSignature: false };

    bundles.full1 = join(work, 'full1.tar');
    bundles.d2 = join(work, 'd2.tar');
    bundles.full2 = join(work, 'full2.tar.zst');
    bundles.d3 = join(work, 'd3.tar');
    bundles.full3 = join(work, 'full3.tar');
    await exportTo('full1.tar', 'set1');
    await Promise.all([
      exportTo('d2.tar', 'set2', { since: [bundles.full1] }),
      exportTo('full2.tar.zst', 'set2'),
      exportTo('full3.tar', 'set3'),
    ]);
    await exportTo('d3.tar', 'set3', { since: [bundles.d2] });
  });

  after(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(work, { recursive: true, force: true });
  });

  it('carries exactly the blobs new in v2, plus under 1 MiB of metadata', async (t) => {
    const v1 = await skopeoBlobs(`${upstream.host}/demo/app:1.0`, upstream);
    const v2 = await skopeoBlobs(`${upstream.host}/demo/app:2.0`, upstream);
    const newInV2 = new Map([...v2].filter(([d]) => !v1.has(d)));
    const d2 = await readTarBundle(bundles.d2);
    assert.deepEqual([...d2.blobs.keys()].sort(), [...newInV2.keys()].sort(), 'the delta holds exactly the blobs v1 lacks');
    const blobBytes = sum(d2.blobs);
    assert.equal(blobBytes, sum(newInV2));
    const metadata = d2.fileSize - blobBytes;
    assert.ok(metadata < MiB, `metadata ${metadata} bytes`);
    // It still describes the complete set, and says which base held each blob left out.
    const full1 = await readTarBundle(bundles.full1);
    assert.deepEqual(d2.manifest.bases.map((b) => b.id), [full1.id]);
    assert.deepEqual(d2.manifest.blobs.map((b) => b.digest).sort(), [...v2.keys()].sort());
    for (const b of d2.manifest.blobs) {
      if (v1.has(b.digest)) assert.deepEqual({ location: b.location, bases: b.bases }, { location: 'base', bases: [full1.id] });
      else assert.equal(b.location, 'bundle');
    }
    t.diagnostic(`v2 blobs ${sum(v2)} B; new in v2 (skopeo) ${newInV2.size} blobs ${sum(newInV2)} B; delta blob bytes ${blobBytes} B; delta file ${d2.fileSize} B; metadata ${metadata} B; full v1 file ${full1.fileSize} B`);
  });

  it('--dry-run plans of a delta say which blobs a base holds, export and import alike', async () => {
    const d2 = await readTarBundle(bundles.d2);
    const full1 = await readTarBundle(bundles.full1);
    const fromBase = d2.manifest.blobs.filter((b) => b.location === 'base').map((b) => b.digest).sort();
    assert.ok(fromBase.length > 0);
    const exported = await exportTo('never.tar', 'set2', { since: [bundles.full1], dryRun: true });
    // A dry run of a delta checks its bases like a real one: the target holds the base first.
    const target = await newRegistry();
    await importTo(bundles.full1, target);
    const imported = await importTo(bundles.d2, target, { dryRun: true });
    for (const plan of [exported.plan!, imported.plan!]) {
      assert.deepEqual(plan.blobs.filter((b) => b.from === `base ${full1.id}`).map((b) => b.digest).sort(), fromBase);
      assert.deepEqual(plan.blobs.map((b) => b.digest).sort(), d2.manifest.blobs.map((b) => b.digest).sort());
    }
    assert.ok(imported.plan!.blobs.every((b) => b.from === 'bundle' || b.from.startsWith('base ')));
  });

  it('imports full v1 then delta v2 to the same digests as a full v2, pushing no base layer', async () => {
    const a = await newRegistry();
    const b = await newRegistry();
    await importTo(bundles.full1, a);
    const r = await ok(importArgs(bundles.d2, a));
    const d2 = await readTarBundle(bundles.d2);
    const carried = d2.manifest.blobs.filter((x) => x.location === 'bundle' && !x.mediaType.includes('manifest'));
    assert.equal(r.json.blobsPushed, carried.length, 'only the blobs the delta carries are uploaded');
    assert.equal(r.json.bytesPushed, carried.reduce((s, x) => s + x.size, 0));
    assert.equal(r.json.blobsMounted, 0);
    await importTo(bundles.full2, b);
    assert.equal(await tagDigest(a, 'demo/app', '2.0'), await tagDigest(b, 'demo/app', '2.0'));
    assert.equal(await tagDigest(a, 'demo/app', '2.0'), await tagDigest(upstream, 'demo/app', '2.0'));
    assert.equal(await tagDigest(a, 'demo/app', '1.0'), await tagDigest(upstream, 'demo/app', '1.0'));
    // Every blob of every image is readable in A (skopeo pulls and checks each one).
    for (const tag of ['1.0', '2.0']) {
      await skopeo(['copy', '--src-tls-verify=false', `docker://${a.host}/demo/app:${tag}`, `dir:${join(work, `pull-a-${tag}`)}`]);
    }
    // Again: nothing to push.
    const again = await importTo(bundles.d2, a);
    assert.equal(again.blobsPushed, 0);
  });

  it('mounts left-out blobs from any repository of the target', async () => {
    const a = await newRegistry();
    await importTo(bundles.full1, a, { to: `${a.host}/first` });
    const r = await importTo(bundles.d2, a, { to: `${a.host}/second` });
    const d2 = await readTarBundle(bundles.d2);
    assert.equal(r.blobsMounted, d2.manifest.blobs.filter((x) => x.location === 'base').length, 'every left-out blob mounted from first/demo/app');
    assert.equal(r.bytesPushed, d2.manifest.blobs.filter((x) => x.location === 'bundle' && !x.mediaType.includes('manifest')).reduce((s, x) => s + x.size, 0));
    await skopeo(['copy', '--src-tls-verify=false', `docker://${a.host}/second/demo/app:2.0`, `dir:${join(work, 'pull-second')}`]);
  });

  it('refuses a delta whose base the target lacks: exit 3, names the base, nothing tagged', async () => {
    const c = await newRegistry();
    const full1 = await readTarBundle(bundles.full1);
    const r = await airlock(importArgs(bundles.d2, c));
    assert.equal(r.code, 3);
    assert.equal(errorOf(r).code, 'BASE_MISSING');
    assert.ok(errorOf(r).hint?.includes(full1.id), 'the hint names the base bundle id');
    assert.deepEqual(await catalog(c), [], 'nothing was pushed, so no repository exists');
    // --dry-run says the same and mounts nothing.
    await assertRejectsCode(importTo(bundles.d2, c, { dryRun: true }), 'BASE_MISSING');
    assert.deepEqual(await catalog(c), []);
  });

  it('chains full → delta → delta to the state of a full export of the last set', async () => {
    const d = await newRegistry();
    const e = await newRegistry();
    const d2 = await readTarBundle(bundles.d2);
    const d3 = await readTarBundle(bundles.d3);
    assert.deepEqual(d3.manifest.bases.map((b) => b.id), [d2.id]);
    // base-os reached the site with full1; d2 left it out; d3 must leave it out too.
    const v1 = await skopeoBlobs(`${upstream.host}/demo/app:1.0`, upstream);
    for (const dgst of v1.keys()) assert.ok(!d3.blobs.has(dgst), `${dgst} (held by full1 through d2) is not in d3`);
    for (const b of d3.manifest.blobs) if (d2.manifest.blobs.some((x) => x.digest === b.digest) && !b.mediaType.includes('manifest')) assert.equal(b.location, 'base');

    for (const bundle of [bundles.full1, bundles.d2, bundles.d3]) await importTo(bundle, d);
    await importTo(bundles.full3, e);
    for (const [repo, tag] of [['demo/app', '2.0'], ['demo/app-api', '1.0']] as const) {
      assert.equal(await tagDigest(d, repo, tag), await tagDigest(e, repo, tag));
      await skopeo(['copy', '--src-tls-verify=false', `docker://${d.host}/${repo}:${tag}`, `dir:${join(work, `pull-d-${repo.replace('/', '_')}`)}`]);
    }
    // A bare airlock.json is as good a base as the bundle.
    const bare = join(work, 'd2-airlock.json');
    await writeFile(bare, d2.airlockRaw);
    await exportTo('d3-bare.tar', 'set3', { since: [bare] });
    const d3bare = await readTarBundle(join(work, 'd3-bare.tar'));
    assert.deepEqual([...d3bare.blobs.keys()].sort(), [...d3.blobs.keys()].sort());
  });

  it('a split bundle volume is a base too', async () => {
    await exportTo('full1-split.tar', 'set1', { splitSize: MiB });
    const vols = (await readdir(work)).filter((f) => f.startsWith('full1-split.vol'));
    assert.ok(vols.length >= 2);
    await exportTo('d2-vol.tar', 'set2', { since: [join(work, vols[vols.length - 1]!)] });
    const d2 = await readTarBundle(bundles.d2);
    const d2vol = await readTarBundle(join(work, 'd2-vol.tar'));
    assert.deepEqual([...d2vol.blobs.keys()].sort(), [...d2.blobs.keys()].sort());
  });

  it('lost media: a delta on the lost bundle fails; one made from the site receipt imports and holds only what the site lacks', async () => {
    const s = await newRegistry();
    const out = join(work, 'site-out');
    await ok(['bundle', 'import', bundles.full1, '--to', s.host, '--dest-tls-verify=false', '--verify-key', dmz.pub, '--state-dir', join(work, 'state-s'), '--out-dir', out, '--sign-key', site.key]);
    const receipt = join(out, 'receipt.json');
    assert.ok((await stat(join(out, 'receipt.sigstore.json'))).size > 0);

    // d2 never arrived: d3 (made against d2) must fail and name d2.
    const d2 = await readTarBundle(bundles.d2);
    const failed = await assertRejectsCode(importTo(bundles.d3, s), 'BASE_MISSING');
    assert.ok(failed.hint?.includes(d2.id));
    assert.deepEqual(await catalog(s), ['demo/app']);
    assert.equal(await tagDigest(s, 'demo/app', '1.0'), await tagDigest(upstream, 'demo/app', '1.0'));
    await assert.rejects(tagDigest(s, 'demo/app', '2.0'), 'nothing of d3 was tagged');

    // The receipt (signed on the site, checked here) as the base.
    const exp = await ok(['bundle', 'export', '-f', list.set3, '-o', join(work, 'd3r.tar'), '--sign-key', dmz.key, ...cache(), '--since', receipt, '--receipt-key', site.pub]);
    assert.equal((exp.json.bases as string[])[0], digestOf(await readFile(receipt)));
    const d3r = await readTarBundle(join(work, 'd3r.tar'));
    const siteHas = await skopeoBlobs(`${s.host}/demo/app:1.0`, s);
    const set3 = new Map([...(await skopeoBlobs(`${upstream.host}/demo/app:2.0`, upstream)), ...(await skopeoBlobs(`${upstream.host}/demo/app-api:1.0`, upstream))]);
    const lacking = [...set3.keys()].filter((dg) => !siteHas.has(dg)).sort();
    assert.deepEqual([...d3r.blobs.keys()].sort(), lacking, 'the delta holds exactly what the site lacks');
    await importTo(join(work, 'd3r.tar'), s);
    assert.equal(await tagDigest(s, 'demo/app', '2.0'), await tagDigest(upstream, 'demo/app', '2.0'));
    assert.equal(await tagDigest(s, 'demo/app-api', '1.0'), await tagDigest(upstream, 'demo/app-api', '1.0'));
    await skopeo(['copy', '--src-tls-verify=false', `docker://${s.host}/demo/app-api:1.0`, `dir:${join(work, 'pull-s-api')}`]);
  });

  it('--receipt-key refuses an unsigned, wrongly signed or altered receipt (exit 3, before any download)', async () => {
    const s = await newRegistry();
    const out = join(work, 'site2-out');
    await importTo(bundles.full1, s, { outDir: out, signKey: site.key });
    const receipt = join(out, 'receipt.json');
    const refused = join(work, 'refused.tar');
    const exportWith = (since: string, key: string): Promise<ExportResult> =>
      exportBundle({ files: [list.set3], output: refused, since: [since], receiptKeys: [key], cacheDir: join(work, 'cache') });

    // Through the CLI once: exit 3.
    const wrongKey = await airlock(['bundle', 'export', '-f', list.set3, '-o', refused, '--since', receipt, '--receipt-key', other.pub, ...cache()]);
    assert.equal(wrongKey.code, 3);
    assert.equal(errorOf(wrongKey).code, 'SIGNATURE_INVALID');

    const unsignedDir = join(work, 'unsigned');
    await mkdir(unsignedDir);
    await copyFile(receipt, join(unsignedDir, 'receipt.json'));
    await assertRejectsCode(exportWith(join(unsignedDir, 'receipt.json'), site.pub), 'SIGNATURE_MISSING');

    const alteredDir = join(work, 'altered');
    await mkdir(alteredDir);
    const doc = JSON.parse(await readFile(receipt, 'utf8')) as { digests: string[] };
    doc.digests.push(`sha256:${'a'.repeat(64)}`);
    await writeFile(join(alteredDir, 'receipt.json'), JSON.stringify(doc, null, 2));
    await copyFile(join(out, 'receipt.sigstore.json'), join(alteredDir, 'receipt.sigstore.json'));
    await assertRejectsCode(exportWith(join(alteredDir, 'receipt.json'), site.pub), 'SIGNATURE_INVALID');
    await assert.rejects(stat(refused), 'no bundle was written');

    // A bundle signature is not a receipt signature: the predicate types differ.
    const swappedDir = join(work, 'swapped');
    await mkdir(swappedDir);
    await copyFile(receipt, join(swappedDir, 'receipt.json'));
    const full1Sig = listTar(await readFile(bundles.full1)).find((x) => x.path === 'airlock.sigstore.json')!;
    await writeFile(join(swappedDir, 'receipt.sigstore.json'), full1Sig.data);
    await assertRejectsCode(exportWith(join(swappedDir, 'receipt.json'), dmz.pub), 'SIGNATURE_INVALID');
    // The good one passes.
    const good = await exportWith(receipt, site.pub);
    assert.equal(good.bases.length, 1);
  });

  it('bundle diff: artifacts and blobs added, and the bytes a delta would carry', async () => {
    const r = await ok(['bundle', 'diff', bundles.full1, bundles.full2]);
    const doc = r.json as {
      version: number; artifacts: { added: { name: string }[]; removed: { name: string }[]; changed: unknown[]; unchanged: number };
      blobs: { added: { digest: string }[]; bytesAdded: number }; delta: { blobs: number; bytes: number };
    };
    assert.equal(doc.version, 1);
    assert.deepEqual(doc.artifacts.added.map((a) => a.name), [`${upstream.host}/demo/app:2.0`]);
    assert.deepEqual(doc.artifacts.removed.map((a) => a.name), [`${upstream.host}/demo/app:1.0`]);
    const d2 = await readTarBundle(bundles.d2);
    assert.deepEqual(doc.blobs.added.map((b) => b.digest).sort(), [...d2.blobs.keys()].sort());
    assert.equal(doc.delta.bytes, sum(d2.blobs), 'diff predicts the delta export exactly');
    assert.equal(doc.delta.blobs, d2.blobs.size);
    // Bare airlock.json on either side, human output too.
    const bare = join(work, 'full1-airlock.json');
    await writeFile(bare, (await readTarBundle(bundles.full1)).airlockRaw);
    const human = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'bundle', 'diff', bare, bundles.d3], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`diff exited ${code}`))));
    });
    assert.ok(human.includes(`${upstream.host}/demo/app-api:1.0`), human);
  });
});
