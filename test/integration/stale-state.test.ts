/**
 * Issue 17.1: the import journal and the export's download cache are hints; the registry (and the
 * upstream) have the last word. A target that lost content after an import (wiped and restarted,
 * a repository deleted, garbage-collected with --delete-untagged, restored from an older backup)
 * is re-imported with the same --state-dir: the run finishes and the target equals a clean
 * import's, judged by fixtures/harness/reliability.ts's own HTTP client and skopeo. A download cache with a
 * wrong, truncated or missing entry (a cache file or a reference into an earlier bundle) costs a
 * download in the same run, never a failure.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBundleFront } from '../../src/bundle/index.js';
import { startFaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { endpointOf } from '../../fixtures/harness/oci-http.js';
import { listRepositories as listCatalog, registryRequest } from '../../fixtures/harness/validate.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  checkRegistry, cleanBaseline, describeRun, exportTo, importArgs, listRepositories, makeWorld, mirrorYaml, recordOutcome, runCli, wipeRegistry, type World,
} from '../../fixtures/harness/reliability.js';

const repositoriesDir = (reg: TestRegistry): string => join(reg.storageDir, 'docker', 'registry', 'v2', 'repositories');

describe('the journal and the caches are hints (issue 17.1)', { concurrency: 1 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let bundle: string;
  let cleanTags: Readonly<Record<string, string>>;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'stale');
    bundle = join(world.ws.dir, 'site.tar.zst');
    await exportTo(world, bundle);
    const clean = await startRegistry();
    disposers.push(() => clean.stop());
    const c = await cleanBaseline(world, bundle, clean);
    assert.deepEqual(c.problems, []);
    cleanTags = c.tags;
    await clean.stop();
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  /** A target with the bundle imported once, its state dir kept for the re-run. */
  async function importedTarget(name: string): Promise<{ target: TestRegistry; args: string[] }> {
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const args = importArgs(world, bundle, target.host, join(world.ws.dir, `state-${name}`));
    const first = await runCli(args, { env: world.ws.env });
    assert.equal(first.code, 0, describeRun(first));
    return { target, args };
  }

  async function assertEqualsClean(target: TestRegistry, scenario: string, detail: string): Promise<void> {
    const end = await checkRegistry(target);
    const corrupt = end.problems.length > 0;
    recordOutcome({ group: 'stale-state', scenario, side: 'import', outcome: corrupt ? 'failed' : 'resumed', corrupt, detail });
    assert.deepEqual(end.problems, []);
    assert.deepEqual(end.tags, cleanTags);
    // skopeo, the independent client, reads every tagged image back by digest.
    for (const [ref, digest] of Object.entries(end.tags).slice(0, 4)) {
      const repo = ref.slice(0, ref.lastIndexOf(':'));
      execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${target.host}/${repo}@${digest}`], { stdio: 'pipe' });
    }
  }

  it('a target wiped and restarted (a reinstall at the same host:port): the re-run pushes everything again', async () => {
    const { target, args } = await importedTarget('wiped');
    await wipeRegistry(target);
    await target.restart();
    const r = await runCli(args, { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /journal is set aside/);
    const doc = JSON.parse(r.stdout) as { blobsPushed: number };
    assert.ok(doc.blobsPushed > 0, 'blobs were pushed again');
    await assertEqualsClean(target, 'target wiped and restarted, same --state-dir', `re-run pushed ${doc.blobsPushed} blobs`);
  });

  it('a repository deleted: the re-run restores it', async () => {
    const { target, args } = await importedTarget('repo-deleted');
    const repos = (await listRepositories(target)).filter((r) => !r.includes('airlock'));
    const victim = repos[0]!;
    rmSync(join(repositoriesDir(target), victim), { recursive: true, force: true });
    await target.restart();
    const r = await runCli(args, { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    await assertEqualsClean(target, 'a repository deleted, same --state-dir', `deleted ${victim}`);
  });

  it('garbage-collect --delete-untagged (the children of multi-arch indexes gone): the re-run pushes them again', async () => {
    const { target, args } = await importedTarget('gc');
    await target.garbageCollect({ deleteUntagged: true });
    const broken = await checkRegistry(target);
    assert.ok(broken.problems.length > 0, 'the garbage collector removed index children (otherwise this test proves nothing)');
    const r = await runCli(args, { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    await assertEqualsClean(target, 'garbage-collect --delete-untagged, same --state-dir', `${broken.problems.length} problem(s) before the re-run`);
  });

  it('restored from an older backup (one image of the bundle): the re-run pushes the rest', async () => {
    const backup = await startRegistry();
    disposers.push(() => backup.stop());
    // The backup: the target after an earlier, smaller bundle (one image), imported with the same state dir.
    const one = world.seeded.images.find((i) => i.tag && i.kind === 'image')!;
    const smallMirror = join(world.ws.dir, 'one.yaml');
    writeFileSync(smallMirror, mirrorYaml({ ...world.seeded, images: [one] }, upstream.host));
    const small = join(world.ws.dir, 'one.tar.zst');
    const e = await runCli(['bundle', 'export', '-f', smallMirror, '-o', small, '--sign-key', world.key, '--cache', join(world.ws.dir, 'cache-export')], { env: world.ws.env });
    assert.equal(e.code, 0, describeRun(e));
    const state = join(world.ws.dir, 'state-backup');
    const s = await runCli(importArgs(world, small, backup.host, state), { env: world.ws.env });
    assert.equal(s.code, 0, describeRun(s));
    const saved = join(world.ws.dir, 'backup-storage');
    cpSync(backup.storageDir, saved, { recursive: true });
    const args = importArgs(world, bundle, backup.host, state);
    const full = await runCli(args, { env: world.ws.env });
    assert.equal(full.code, 0, describeRun(full));
    rmSync(backup.storageDir, { recursive: true, force: true });
    cpSync(saved, backup.storageDir, { recursive: true });
    await backup.restart();
    const r = await runCli(args, { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /journal is set aside/);
    await assertEqualsClean(backup, 'restored from an older backup, same --state-dir', 'backup held one image of the bundle');
  });

  it('a loss the start-up sample misses: the refused manifest push makes the run forget the journal, check again and finish', async () => {
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const proxy = await startFaultProxy({ upstream: target.host });
    disposers.push(() => proxy.stop());
    const args = importArgs(world, bundle, proxy.host, join(world.ws.dir, 'state-sample-miss'));
    // Run 1: every manifest PUT refused, so the journal holds blob claims only.
    proxy.setRules([{ method: 'PUT', path: /\/manifests\//, action: { kind: 'status', status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"refused by the test"}]}' } }]);
    const first = await runCli(args, { env: world.ws.env });
    assert.notEqual(first.code, 0, describeRun(first));
    // The target loses them; the first HEADs on blobs (the sample) are answered "present" by the proxy.
    await wipeRegistry(target);
    await target.restart();
    proxy.setRules([{ method: 'HEAD', path: /\/blobs\/sha256:/, times: 8, action: { kind: 'status', status: 200 } }]);
    const r = await runCli(args, { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /refused a write for want of content/);
    assert.doesNotMatch(r.stderr, /journal is set aside and the target is checked again \(/, 'the sample was fooled, as this test intends');
    await assertEqualsClean(target, 'a loss the journal sample misses (manifest push refused)', 'checked again within the run');
  });

  it('a spooled piece of a split bundle damaged between runs: removed, its volume named, and imported again it completes', async () => {
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const split = join(world.ws.dir, 'split', 'site.tar.zst');
    await exportTo(world, split, ['--split-size', '600KiB']);
    const front = await readBundleFront(join(world.ws.dir, 'split', 'site.vol001.tar.zst'));
    const cutBlob = front.manifest.blobs.find((b) => b.pieces && new Set(b.pieces.map((p) => p.volume)).size > 1);
    assert.ok(cutBlob?.pieces, 'the bundle holds a blob cut across volumes');
    const piece = cutBlob.pieces[0]!;
    const volume = (n: number): string => join(world.ws.dir, 'split', `site.vol${String(n).padStart(3, '0')}.tar.zst`);
    const count = front.manifest.volumes!.count;
    const state = join(world.ws.dir, 'state-spool');
    const args = (vols: readonly number[]): string[] => importArgs(world, volume(vols[0]!), target.host, state).flatMap((a, i) => (i === 2 ? [a, ...vols.slice(1).map(volume)] : [a]));
    const first = await runCli(args([piece.volume]), { env: world.ws.env });
    assert.equal(first.code, 0, describeRun(first));
    const spooled = join(state, 'spool', front.id.slice(7, 39), `${cutBlob.digest.slice(7)}.${piece.offset}`);
    assert.ok(existsSync(spooled), 'the piece waits in the spool');
    // The run also parked the piece in the target, for importers on other hosts (docs/scale-out.md):
    // that copy alone would complete the blob. Delete it there, so the spool holds the only copy.
    assert.ok(((JSON.parse(first.stdout) as { pieces?: { parked: number } }).pieces?.parked ?? 0) >= 1, 'the piece was parked in the target');
    const ep = endpointOf(target);
    let unparked = 0;
    for (const repo of await listCatalog(ep)) {
      if ((await registryRequest(ep, 'DELETE', `/v2/${repo}/blobs/${piece.digest}`)).status === 202) unparked++;
    }
    assert.equal(unparked, 1, 'the parked piece was in one repository');
    const bytes = readFileSync(spooled);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(spooled, bytes);
    const others = Array.from({ length: count }, (_, i) => i + 1).filter((v) => v !== piece.volume);
    const second = await runCli(args(others), { env: world.ws.env });
    assert.equal(second.code, 0, describeRun(second));
    assert.match(second.stderr, new RegExp(`damaged: removed; import volume ${piece.volume} again`));
    assert.ok((JSON.parse(second.stdout) as { volumesRemaining: number[] }).volumesRemaining.includes(piece.volume));
    const third = await runCli(args([piece.volume]), { env: world.ws.env });
    assert.equal(third.code, 0, describeRun(third));
    await assertEqualsClean(target, 'a spooled piece of a split bundle damaged between runs', `volume ${piece.volume} imported again`);
  });

  describe('export: the download cache', () => {
    /** Cache files (blobs/sha256/<hex>) of layers, largest first. */
    const cacheFiles = (cache: string): string[] => {
      const dir = join(cache, 'blobs', 'sha256');
      return existsSync(dir) ? readdirSync(dir).map((n) => join(dir, n)).sort((a, b) => statSync(b).size - statSync(a).size) : [];
    };
    const exportArgs = (out: string, cache: string): string[] => ['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--cache', cache, '--json'];
    const verify = async (out: string): Promise<void> => {
      const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
      assert.equal(v.code, 0, describeRun(v));
    };
    const artifacts = async (p: string): Promise<string> => (await readBundleFront(p)).manifest.artifacts.map((a) => `${a.source} ${a.digest}`).sort().join('\n');

    for (const form of ['dir', 'tar'] as const) {
      it(`a cache file with other bytes of the same size, or truncated, or missing, is downloaded again (${form} output)`, async () => {
        const cache = join(world.ws.dir, `cache-damaged-${form}`);
        // A directory output copies every layer into the cache (a .tar writes them in place and refers to them).
        const warm = join(world.ws.dir, `warm-${form}`);
        const w = await runCli(['bundle', 'export', '-f', world.mirror, '-o', warm, '--cache', cache], { env: world.ws.env });
        assert.equal(w.code, 0, describeRun(w));
        const files = cacheFiles(cache);
        assert.ok(files.length >= 3, `the cache holds files (${files.length})`);
        const [wrong, truncated, missing] = files;
        const bytes = readFileSync(wrong!);
        bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
        writeFileSync(wrong!, bytes);
        writeFileSync(truncated!, readFileSync(truncated!).subarray(0, Math.floor(statSync(truncated!).size / 2)));
        rmSync(missing!);
        const out = join(world.ws.dir, form === 'dir' ? 'from-damaged-cache' : 'from-damaged-cache.tar');
        const r = await runCli(exportArgs(out, cache), { env: world.ws.env });
        assert.equal(r.code, 0, describeRun(r));
        assert.match(r.stderr, /the download cache's copy of sha256:\w+ is damaged/);
        await verify(out);
        assert.equal(await artifacts(out), await artifacts(warm));
        recordOutcome({ group: 'stale-state', scenario: `download cache entries wrong, truncated, missing (${form})`, side: 'export', outcome: 'resumed', corrupt: false, detail: 'downloaded again in the same run' });
      });
    }

    it('every cache file damaged, a vendor signature checked through the cache: one more pass, everything downloaded again', async () => {
      const cache = join(world.ws.dir, 'cache-all-damaged');
      const mirror = join(world.ws.dir, 'signed.yaml');
      writeFileSync(mirror, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:',
        `  - ref: ${upstream.host}/demo/app:1.0`, `    verify: { key: ${world.seeded.fixtures.publicKeyPath} }`, `  - ${upstream.host}/demo/multi:1.0`, ''].join('\n'));
      const run = (out: string): Promise<Awaited<ReturnType<typeof runCli>>> =>
        runCli(['bundle', 'export', '-f', mirror, '-o', out, '--sign-key', world.key, '--cache', cache, '--json'], { env: world.ws.env });
      const warm = await run(join(world.ws.dir, 'signed-warm'));
      assert.equal(warm.code, 0, describeRun(warm));
      const files = cacheFiles(cache).filter((f) => statSync(f).size > 0);
      for (const f of files) {
        const b = readFileSync(f);
        b[Math.floor(b.length / 2)]! ^= 0xff;
        writeFileSync(f, b);
      }
      const out = join(world.ws.dir, 'signed-again.tar');
      const r = await run(out);
      assert.equal(r.code, 0, describeRun(r));
      const doc = JSON.parse(r.stdout) as { artifacts: { source: string; upstreamSignature?: { verified: boolean } }[] };
      assert.equal(doc.artifacts.find((a) => a.source.includes('demo/app:1.0') && a.upstreamSignature)?.upstreamSignature?.verified, true);
      await verify(out);
      assert.equal(await artifacts(out), await artifacts(join(world.ws.dir, 'signed-warm')));
      recordOutcome({ group: 'stale-state', scenario: 'download cache: every file damaged, vendor signature checked', side: 'export', outcome: 'resumed', corrupt: false, detail: `${files.length} cache files damaged; downloaded again in the same run` });
    });

    it('a reference into an earlier bundle whose bytes changed in place (size and mtime kept) is downloaded again in the same run', async () => {
      const cache = join(world.ws.dir, 'cache-refs');
      const first = join(world.ws.dir, 'first.tar');
      const a = await runCli(exportArgs(first, cache), { env: world.ws.env });
      assert.equal(a.code, 0, describeRun(a));
      const refs = join(cache, 'refs', 'sha256');
      assert.ok(existsSync(refs) && readdirSync(refs).length > 0, 'the cache refers to layers in the first bundle');
      // Damage every referenced range in place, keeping the file's size and mtime.
      const mtimeNs = statSync(first, { bigint: true }).mtimeNs;
      const data = readFileSync(first);
      for (const name of readdirSync(refs)) {
        const ref = JSON.parse(readFileSync(join(refs, name), 'utf8')) as { ranges: [number, number][] };
        for (const [offset, length] of ref.ranges) data[offset + Math.floor(length / 2)]! ^= 0xff;
      }
      writeFileSync(first, data);
      // To the nanosecond, so the cache takes the reference as still good.
      execFileSync('touch', ['-m', '-d', `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, '0')}`, first]);
      assert.equal(statSync(first, { bigint: true }).mtimeNs, mtimeNs);
      // And one reference points at a bundle that has moved away since.
      const second = join(world.ws.dir, 'second.tar');
      const r = await runCli(exportArgs(second, cache), { env: world.ws.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, /the download cache's copy of sha256:\w+ is damaged/);
      await verify(second);
      renameSync(second, `${second}.moved`);
      const third = join(world.ws.dir, 'third.tar.zst');
      const r3 = await runCli(exportArgs(third, cache), { env: world.ws.env });
      assert.equal(r3.code, 0, describeRun(r3));
      await verify(third);
      recordOutcome({ group: 'stale-state', scenario: 'cache references into a bundle changed in place / moved', side: 'export', outcome: 'resumed', corrupt: false, detail: 'downloaded again in the same run' });
    });
  });
});
