/**
 * Issue 24, "scale past one machine": one split bundle's volumes imported by N processes at once
 * (one volume each, each with its own --state-dir and --out-dir, as on N hosts), into Distribution
 * scaled out the documented way (two instances over one filesystem storage, one http.secret), the
 * importers spread over both instances. While they run, a watcher checks again and again that no
 * tag points at incomplete content; at the end every tag the bundle carries is there, on both
 * instances, with the bundle's digests (skopeo judges), and nothing waits.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, jsonErrorCode, parseJsonOutput, runCli, runCliKillWhen, type CliResult } from '../../fixtures/harness/cli.js';
import { seedRegistry, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { endpointOf } from '../../fixtures/harness/oci-http.js';
import { startFaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, startRegistryCluster, type RegistryCluster, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { listRepositories, listTar, sha256Of, validateRegistry } from '../../fixtures/harness/validate.js';
import { mirrorYaml } from '../../fixtures/harness/reliability.js';

interface Artifact { kind: string; repository: string; tag?: string; digest: string }
interface Blob { digest: string; pieces?: { volume: number }[] }
interface AirlockJson { artifacts: Artifact[]; blobs: Blob[]; volumes?: { count: number } }
interface ImportJson { artifacts: { status: string }[]; volumesRemaining: number[]; tagsSet: number; pieces?: { parked: number; fetched: number; assembled: number } }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('split bundle imported by N processes at once into two Distribution instances over one storage (issue 24)', () => {
  let upstream: TestRegistry;
  let cluster: RegistryCluster;
  let seeded: SeedResult;
  let work: string;
  let mirror: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-scale-test-'));
    [upstream, cluster] = await Promise.all([startRegistry(), startRegistryCluster(2)]);
    seeded = await seedRegistry(upstream, 'small');
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, mirrorYaml(seeded, upstream.host));
  });

  after(async () => {
    await Promise.all([upstream?.stop(), cluster?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a manifest PUT answered DIGEST_INVALID for bytes that match is asked again (Distribution, a child manifest being rewritten); a lasting refusal still stops with exit 3', async () => {
    const dir = join(work, 'digest-invalid');
    ok(await runCli(['bundle', 'export', '-f', mirror, '-o', join(dir, 'site.tar.zst'), '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache')]));
    const proxy = await startFaultProxy({ upstream: cluster.instances[0]!.host });
    try {
      const refusal = {
        kind: 'status' as const, status: 400, headers: { 'content-type': 'application/json' },
        body: '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}',
      };
      const run = (prefix: string): Promise<CliResult> => runCli(['bundle', 'import', join(dir, 'site.tar.zst'), '--to', `${proxy.host}/${prefix}`,
        '--verify-key', join(work, 'dmz.pub'), '--dest-tls-verify=false', '--state-dir', join(dir, `state-${prefix}`), '--out-dir', join(dir, `out-${prefix}`), '--json']);
      // The first two tag PUTs are refused (after the preflight and the manifests by digest,
      // which the proxy lets through): the import asks again and completes.
      proxy.setRules([{ method: 'PUT', path: /\/manifests\/(?!sha256:)[^/]+$/, nth: [1, 2], action: refusal }]);
      const r = await run('retried');
      ok(r);
      assert.ok(proxy.counters.faults >= 2, 'no refusal was injected');
      const state = await validateRegistry(endpointOf(cluster.instances[1]!), { repositories: (await listRepositories(endpointOf(cluster.instances[1]!))).filter((x) => x.startsWith('retried/')) });
      assert.ok(state.tags.size > 0);
      // Every tag PUT refused (after the preflight and the manifests by digest): not retried for
      // ever, and reported as the digest error it claims to be.
      proxy.setRules([{ method: 'PUT', path: /\/manifests\/(?!sha256:)[^/]+$/, action: refusal }]);
      const failed = await run('refused');
      assert.equal(failed.code, 3, describeResult(failed));
      assert.equal(jsonErrorCode(failed), 'DIGEST_MISMATCH');
    } finally {
      await proxy.stop();
    }
  });

  it('N=4 with one importer killed (SIGKILL) at its first upload: the others leave its tags waiting, never half-made; its re-run completes and tags everything', async () => {
    const dir = join(work, 'kill');
    ok(await runCli(['bundle', 'export', '-f', mirror, '-o', join(dir, 'site.tar.zst'), '--sign-key', join(work, 'dmz.key'),
      '--cache', join(work, 'cache'), '--split-size', '700KiB']));
    const volumes = (await readdir(dir)).filter((f) => /\.vol\d{3}\.tar\.zst$/.test(f)).sort().map((f) => join(dir, f));
    assert.equal(volumes.length, 4);
    const airlock = JSON.parse((await listTar(volumes[0]!))[0]!.body.toString('utf8')) as AirlockJson;
    // The victim carries a piece of a cut blob: without it, that blob cannot be assembled.
    const victim = airlock.blobs.find((b) => new Set(b.pieces?.map((p) => p.volume)).size > 1)!.pieces![0]!.volume - 1;
    const proxy = await startFaultProxy({ upstream: cluster.instances[0]!.host });
    const prefix = 'scalekill';
    const args = (i: number, host: string): string[] => ['bundle', 'import', volumes[i]!, '--to', `${host}/${prefix}`,
      '--verify-key', join(work, 'dmz.pub'), '--dest-tls-verify=false', '--state-dir', join(dir, `state-${i}`), '--out-dir', join(dir, `out-${i}`), '--json'];
    const eps = cluster.instances.map((r) => endpointOf(r));
    const ours = async (): Promise<string[]> => (await listRepositories(eps[1]!)).filter((r) => r.startsWith(`${prefix}/`));
    const expected = new Map(airlock.artifacts
      .filter((a) => a.kind !== 'file' && a.tag !== undefined)
      .map((a) => [`${prefix}/${a.repository.slice(upstream.host.length + 1)}:${a.tag}`, a.digest]));
    const tagsNow = async (): Promise<Map<string, string>> =>
      new Map([...(await validateRegistry(eps[1]!, { repositories: await ours() })).tags].filter(([k]) => !/:sha256-[a-f0-9]{64}$/.test(k)));
    try {
      proxy.setRules([{ method: 'PUT', path: /\/blobs\/uploads\//, nth: [1], action: { kind: 'stall', ms: 60_000 } }]);
      const [killed, ...others] = await Promise.all([
        runCliKillWhen(args(victim, proxy.host), { when: () => proxy.counters.faults > 0 }),
        ...volumes.map((_, i) => i).filter((i) => i !== victim).map((i) => runCli(args(i, cluster.instances[(i + 1) % 2]!.host), { timeoutMs: 300_000 })),
      ]);
      assert.equal(killed!.killed, true, describeResult(killed!));
      for (const r of others) ok(r);
      // Whatever the survivors tagged is whole (validateRegistry hashes it); what needs the victim waits.
      const partial = await tagsNow();
      for (const [k, v] of partial) assert.equal(v, expected.get(k), k);
      assert.ok(partial.size < expected.size, 'everything was tagged without the killed importer\'s volume');
      proxy.setRules([]);
      const rerun = await runCli(args(victim, proxy.host), { timeoutMs: 300_000 });
      ok(rerun);
      assert.deepEqual(await tagsNow(), expected);
      const res = parseJsonOutput<ImportJson>(rerun);
      assert.deepEqual(res.volumesRemaining, []);
      assert.ok((res.pieces?.assembled ?? 0) > 0, JSON.stringify(res.pieces));
    } finally {
      await proxy.stop();
    }
  });

  // 2 MiB: two volumes, every layer whole. 700 KiB: four volumes, the 1.4 MB base layer cut into
  // pieces that land in different volumes, so in different processes (their spools never meet).
  for (const [n, splitSize] of [[2, '2MiB'], [4, '700KiB']] as const) {
    it(`N=${n}: every tag lands complete, none ever points at incomplete content, on both instances`, async () => {
      const dir = join(work, `n${n}`);
      ok(await runCli(['bundle', 'export', '-f', mirror, '-o', join(dir, 'site.tar.zst'), '--sign-key', join(work, 'dmz.key'),
        '--cache', join(work, 'cache'), '--split-size', splitSize]));
      const volumes = (await readdir(dir)).filter((f) => /\.vol\d{3}\.tar\.zst$/.test(f)).sort().map((f) => join(dir, f));
      assert.equal(volumes.length, n, `--split-size ${splitSize} made ${volumes.length} volumes`);
      const airlock = JSON.parse((await listTar(volumes[0]!))[0]!.body.toString('utf8')) as AirlockJson;
      if (n === 4) assert.ok(airlock.blobs.some((b) => new Set(b.pieces?.map((p) => p.volume)).size > 1), 'no blob cut across volumes');

      const prefix = `scale${n}`;
      const eps = cluster.instances.map((r) => endpointOf(r));
      const ours = async (): Promise<string[]> => (await listRepositories(eps[0]!)).filter((r) => r.startsWith(`${prefix}/`));
      // The watcher: every tag seen at any moment resolves to a whole graph (validateRegistry
      // downloads and hashes it). Nothing is ever deleted, so a tag seen complete stays complete.
      let running = true;
      const problems: string[] = [];
      let looks = 0;
      let transient = 0;
      const watcher = (async () => {
        while (running) {
          const ep = eps[looks % eps.length]!;
          looks++;
          try {
            await validateRegistry(ep, { repositories: await ours() });
          } catch (err) {
            // Distribution's filesystem driver creates a tag's directory before its link file, and
            // rewrites the link in place (truncate, then write): while an importer sets a tag, a
            // reader can see the tag listed but get 404 or 500 for it. That is a tag not yet
            // readable, not one pointing at incomplete content (a blob or child manifest missing,
            // wrong bytes); the next look checks it again.
            const message = (err as Error).message;
            const lines = (message.startsWith('registry ') ? message.split('\n').slice(1) : [message]).map((l) => l.trim()).filter(Boolean);
            const settling = (l: string): boolean => /^[^ ]+:([^ :]+): manifest \1 is missing$/.test(l) || /HTTP 5\d\d/.test(l);
            if (lines.length > 0 && lines.every(settling)) transient++;
            else problems.push(message);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const results = await Promise.all(volumes.map((vol, i) => runCli([
        'bundle', 'import', vol, '--to', `${cluster.instances[i % cluster.instances.length]!.host}/${prefix}`,
        '--verify-key', join(work, 'dmz.pub'), '--dest-tls-verify=false',
        '--state-dir', join(dir, `state-${i}`), '--out-dir', join(dir, `out-${i}`), '--json',
      ], { timeoutMs: 300_000 })));
      running = false;
      await watcher;
      for (const r of results) ok(r);
      assert.deepEqual(problems, [], 'a tag pointed at incomplete content while the imports ran');
      assert.ok(looks > transient, `${looks} looks, ${transient} of them failed reads`);

      // The end state: exactly the bundle's tags, each at the bundle's digest, seen by both instances.
      const expected = new Map(airlock.artifacts
        .filter((a) => a.kind !== 'file' && a.tag !== undefined)
        .map((a) => [`${prefix}/${a.repository.slice(upstream.host.length + 1)}:${a.tag}`, a.digest]));
      for (const ep of eps) {
        const state = await validateRegistry(ep, { repositories: await ours() });
        const tags = new Map([...state.tags].filter(([k]) => !/:sha256-[a-f0-9]{64}$/.test(k)));
        assert.deepEqual(tags, expected, `tags seen by ${ep.url}`);
      }
      for (const [ref, digest] of expected) {
        const raw = await skopeoInspectRaw(`docker://${cluster.instances[1]!.host}/${ref}`, cluster.instances[1]!);
        assert.equal(sha256Of(raw), digest, `skopeo: ${ref}`);
      }
      if (n === 4) {
        // Each piece of a cut blob was parked in the target by the one process that carried it,
        // and the blob was assembled from them (read back from the target) at least once.
        const pieces = airlock.blobs.filter((b) => new Set(b.pieces?.map((p) => p.volume)).size > 1).flatMap((b) => b.pieces!);
        const all = results.map((r) => parseJsonOutput<ImportJson>(r).pieces);
        assert.equal(all.reduce((s, p) => s + (p?.parked ?? 0), 0), pieces.length, JSON.stringify(all));
        assert.ok(all.some((p) => (p?.assembled ?? 0) > 0 && p!.fetched > 0), JSON.stringify(all));
      }
      // Whoever finished last saw everything: at least one process ended with nothing waiting.
      const reports = results.map((r) => parseJsonOutput<ImportJson>(r));
      assert.ok(reports.some((x) => x.volumesRemaining.length === 0 && x.artifacts.every((a) => a.status !== 'waiting')),
        `every process ended with something waiting: ${JSON.stringify(reports.map((x) => x.volumesRemaining))}`);
    });
  }
});
