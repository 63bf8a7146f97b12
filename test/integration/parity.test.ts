/**
 * Issue 21, parity volumes: `export --split-size --parity N` and `bundle repair`, through the built
 * CLI. Acceptance: losing any one volume of a split bundle exported with --parity 1 and repairing
 * it gives the volume back bit-identical, `bundle verify` passes, and the repaired set imports into
 * a real Distribution registry exactly as the original (skopeo judges the digests).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf, type Descriptor } from '../../src/oci/index.js';
import { endpointOf, pushFromLayout } from '../../fixtures/harness/oci-http.js';
import { startRegistry, testImage, writeOciLayout, type TestRegistry } from '../../fixtures/harness/registry.js';
import { runCli } from '../../fixtures/harness/signed-bundle.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

describe('parity volumes and bundle repair', () => {
  let work: string;
  let upstream: TestRegistry;
  let mirror: string;
  const refs = ['demo/a:1', 'demo/b:1', 'demo/c:1'];
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-parity-'));
    upstream = await startRegistry();
    let n = 0;
    for (const ref of refs) {
      const [repo, tag] = ref.split(':') as [string, string];
      const content = testImage(`parity-${ref}`, { layers: 3, layerSize: 300 * 1024 });
      const dir = await writeOciLayout(join(work, 'layouts', String(n++)), [{ tag, content }]);
      await pushFromLayout(endpointOf(upstream), dir, content.root.desc as Descriptor, repo, tag);
    }
    mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', ...refs.map((r) => `  - ${upstream.host}/${r}`), ''].join('\n'));
    const keys = await runCli(['keys', 'generate', '--out', join(work, 'dmz'), '--quiet']);
    assert.equal(keys.code, 0, keys.stderr);
  });
  after(async () => {
    await upstream?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function exportSet(name: string, parity: number): Promise<{ dir: string; volumes: string[]; parity: string[] }> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    const r = await runCli(['bundle', 'export', '-f', mirror, '-o', join(dir, 'site.tar.zst'), '--split-size', '900KiB', '--parity', String(parity),
      '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const names = (await readdir(dir)).sort();
    const volumes = names.filter((n) => /\.vol\d+\.tar\.zst$/.test(n)).map((n) => join(dir, n));
    const par = names.filter((n) => /\.par\d+$/.test(n)).map((n) => join(dir, n));
    assert.ok(volumes.length >= 3, `${volumes.length} volumes`);
    assert.equal(par.length, parity);
    // checksums.txt lists the parity volumes too.
    const sums = await readFile(join(dir, 'checksums.txt'), 'utf8');
    for (const p of par) assert.match(sums, new RegExp(`  ${p.split('/').pop()!.replace('.', '\\.')}$`, 'm'));
    await promisify(execFile)('sha256sum', ['-c', '--quiet', 'checksums.txt'], { cwd: dir });
    return { dir, volumes, parity: par };
  }

  async function copySet(from: { volumes: string[]; parity: string[] }, to: string): Promise<{ volumes: string[]; parity: string[] }> {
    await rm(to, { recursive: true, force: true });
    await mkdir(to, { recursive: true });
    const cp = async (p: string): Promise<string> => {
      const d = join(to, p.split('/').pop()!);
      await copyFile(p, d);
      return d;
    };
    return { volumes: await Promise.all(from.volumes.map(cp)), parity: await Promise.all(from.parity.map(cp)) };
  }

  it('--parity 1: any one lost volume is rebuilt bit-identical, verifies, and the set imports as the original', async () => {
    const orig = await exportSet('p1', 1);
    const originals = await Promise.all(orig.volumes.map((v) => readFile(v)));
    let repairedSet: { volumes: string[]; parity: string[] } | undefined;
    for (let i = 0; i < orig.volumes.length; i++) {
      const set = await copySet(orig, join(work, `p1-lose-${i}`));
      await unlink(set.volumes[i]!);
      const dry = await runCli(['--json', 'bundle', 'repair', ...set.volumes.filter((_, j) => j !== i), ...set.parity, '--dry-run']);
      assert.equal(dry.code, 3, dry.stderr);
      const r = await runCli(['--json', 'bundle', 'repair', ...set.volumes.filter((_, j) => j !== i), ...set.parity]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { rebuilt: string[]; damaged: { problem: string }[] };
      assert.deepEqual(doc.rebuilt, [set.volumes[i]]);
      assert.deepEqual(doc.damaged.map((d) => d.problem), ['missing']);
      assert.ok((await readFile(set.volumes[i]!)).equals(originals[i]!), `volume ${i + 1} rebuilt bit-identical`);
      const v = await runCli(['bundle', 'verify', ...set.volumes, '--verify-key', join(work, 'dmz.pub'), '--quiet']);
      assert.equal(v.code, 0, v.stderr);
      repairedSet = set;
    }
    // A damaged (not lost) volume: one flipped byte in the middle, found by its sha256, rebuilt.
    const set = await copySet(orig, join(work, 'p1-flip'));
    const buf = await readFile(set.volumes[1]!);
    buf[buf.length >> 1]! ^= 0x40;
    await writeFile(set.volumes[1]!, buf);
    const fixed = await runCli(['--json', 'bundle', 'repair', ...set.volumes, ...set.parity]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual((JSON.parse(fixed.stdout) as { damaged: { problem: string }[] }).damaged.map((d) => d.problem), ['sha256']);
    assert.ok((await readFile(set.volumes[1]!)).equals(originals[1]!));
    // Two lost with one parity volume: refused, nothing written.
    const two = await copySet(orig, join(work, 'p1-two'));
    await unlink(two.volumes[0]!);
    await unlink(two.volumes[1]!);
    const refused = await runCli(['--json', 'bundle', 'repair', ...two.volumes.slice(2), ...two.parity]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'BUNDLE_INCOMPLETE');

    // The repaired set (the last volume rebuilt) imports exactly as the original set.
    const a = await startRegistry();
    const b = await startRegistry();
    try {
      for (const [reg, vols, name] of [[a, orig.volumes, 'orig'], [b, repairedSet!.volumes, 'repaired']] as const) {
        const r = await runCli(['bundle', 'import', ...vols, '--to', reg.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
          '--state-dir', join(work, `state-${name}`), '--out-dir', join(work, `out-${name}`), '--quiet']);
        assert.equal(r.code, 0, r.stderr);
      }
      for (const ref of refs) {
        const da = digestOf(await skopeoInspectRaw(`docker://${a.host}/${ref}`, a));
        const db = digestOf(await skopeoInspectRaw(`docker://${b.host}/${ref}`, b));
        assert.equal(db, da, ref);
        assert.equal(da, digestOf(await skopeoInspectRaw(`docker://${upstream.host}/${ref}`, upstream)));
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('--parity 2: a lost volume and a damaged parity volume are both rebuilt; a damaged trailer is detected', async () => {
    const orig = await exportSet('p2', 2);
    const originals = await Promise.all([...orig.volumes, ...orig.parity].map((v) => readFile(v)));
    const set = await copySet(orig, join(work, 'p2-damage'));
    await unlink(set.volumes[0]!);
    const par = await readFile(set.parity[0]!);
    par[par.length - 40]! ^= 0x01; // inside the footer's hash: the trailer no longer checks
    await writeFile(set.parity[0]!, par);
    const r = await runCli(['--json', 'bundle', 'repair', ...set.volumes.slice(1), ...set.parity]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { rebuilt: string[] };
    assert.deepEqual(doc.rebuilt.sort(), [set.volumes[0]!, set.parity[0]!].sort());
    const now = await Promise.all([...set.volumes, ...set.parity].map((v) => readFile(v)));
    now.forEach((b, i) => assert.ok(b.equals(originals[i]!), `file ${i} bit-identical`));
    // A glob that names the parity volumes too (site.*): verify leaves them out, with a note.
    const v = await runCli(['bundle', 'verify', ...set.volumes, ...set.parity, '--verify-key', join(work, 'dmz.pub')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stderr, /leaving out .*\.par001: a parity volume/);
    // --parity without --split-size is a usage error.
    const bad = await runCli(['bundle', 'export', '-f', mirror, '-o', join(work, 'x.tar'), '--parity', '1', '--quiet']);
    assert.equal(bad.code, 2, bad.stderr);
  });
});
