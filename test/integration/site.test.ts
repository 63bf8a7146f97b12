/**
 * Issue 21, operating a mirror over time, through the built CLI against real Distribution
 * registries, with skopeo as the judge: `site status` (freshness, --max-age, --prometheus), tag
 * moves recorded and kept (--keep-previous-tags) and `site rollback`, and `site prune` followed by
 * the registry's own garbage-collect.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Descriptor, Digest } from '../../src/oci/index.js';
import { endpointOf, pushFromLayout } from '../../fixtures/harness/oci-http.js';
import { REGISTRY_BIN, startRegistry, testImage, testIndex, writeOciLayout, type TestContent, type TestRegistry } from '../../fixtures/harness/registry.js';
import { runCli, type CliRun } from '../../fixtures/harness/signed-bundle.js';
import { skopeo, skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { digestOf } from '../../src/oci/index.js';

const run = promisify(execFile);

interface Site {
  readonly work: string;
  readonly upstream: TestRegistry;
  readonly target: TestRegistry;
  readonly stateDir: string;
  publish(repo: string, tag: string, seed: string, content?: TestContent): Promise<Digest>;
  exportTo(name: string, images: readonly string[]): Promise<string>;
  importBundle(bundle: string, extra?: readonly string[]): Promise<CliRun & { json: Record<string, unknown> }>;
  cli(args: readonly string[]): Promise<CliRun & { json: Record<string, unknown> }>;
  tagDigest(repo: string, tag: string): Promise<Digest>;
  stop(): Promise<void>;
}

async function startSite(name: string): Promise<Site> {
  const work = await mkdtemp(join(tmpdir(), `airlock-site-${name}-`));
  const upstream = await startRegistry();
  const target = await startRegistry();
  const stateDir = join(work, 'state');
  const keys = await runCli(['keys', 'generate', '--out', join(work, 'dmz'), '--quiet']);
  assert.equal(keys.code, 0, keys.stderr);
  const parse = (r: CliRun): CliRun & { json: Record<string, unknown> } => {
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(r.stdout) as Record<string, unknown>;
    } catch { /* asserted by the caller */ }
    return { ...r, json };
  };
  let n = 0;
  const site: Site = {
    work, upstream, target, stateDir,
    async publish(repo, tag, seed, given) {
      const content = given ?? testImage(seed, { layers: 2, layerSize: 64 * 1024 });
      const dir = await writeOciLayout(join(work, 'layouts', `${seed}-${n++}`), [{ tag, content }]);
      const root = content.root.desc as Descriptor;
      await pushFromLayout(endpointOf(upstream), dir, root, repo, tag);
      return root.digest;
    },
    async exportTo(bundleName, images) {
      const mirror = join(work, `${bundleName}.yaml`);
      await writeFile(mirror, [
        'version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:',
        ...images.map((i) => `  - ${upstream.host}/${i}`), '',
      ].join('\n'));
      const out = join(work, `${bundleName}.tar`);
      const r = await runCli(['bundle', 'export', '-f', mirror, '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--quiet']);
      assert.equal(r.code, 0, `export ${bundleName}: ${r.stderr}`);
      return out;
    },
    async importBundle(bundle, extra = []) {
      return parse(await runCli(['--json', 'bundle', 'import', bundle, '--to', target.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
        '--state-dir', stateDir, '--out-dir', join(work, `out-${n++}`), '--quiet', ...extra]));
    },
    async cli(args) {
      return parse(await runCli(['--json', ...args]));
    },
    async tagDigest(repo, tag) {
      return digestOf(await skopeoInspectRaw(`docker://${target.host}/${repo}:${tag}`, target));
    },
    async stop() {
      await upstream.stop();
      await target.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
  return site;
}

const okImport = (r: CliRun & { json: Record<string, unknown> }): Record<string, unknown> => {
  assert.equal(r.code, 0, `import failed (${r.code}): ${r.stdout}\n${r.stderr}`);
  return r.json;
};

describe('site status', () => {
  let site: Site;
  before(async () => {
    site = await startSite('status');
  });
  after(async () => site?.stop());

  it('reports the last import, its signer, content age and the last failure; --max-age and --prometheus for monitoring', async () => {
    const empty = await site.cli(['site', 'status', '--state-dir', site.stateDir]);
    assert.equal(empty.code, 1);
    assert.equal((empty.json.error as { code: string }).code, 'NOT_FOUND');

    await site.publish('demo/app', '1.0', 'status-a');
    const b1 = await site.exportTo('b1', ['demo/app:1.0']);
    const imported = okImport(await site.importBundle(b1));

    const s = await site.cli(['site', 'status', '--state-dir', site.stateDir, '--max-age', '36h', '--prometheus', join(site.work, 'textfile', 'airlock.prom')]);
    assert.equal(s.code, 0, s.stderr);
    const last = s.json.lastImport as Record<string, unknown>;
    assert.equal(last.bundleId, imported.bundleId);
    assert.match(String(last.signer), /dmz|key|sha256|ecdsa/i);
    assert.equal(last.complete, true);
    assert.equal(last.artifacts, 1);
    assert.ok((last.bytesPushed as number) > 128 * 1024);
    assert.ok((s.json.newestContent as { created: string }).created);
    assert.equal(s.json.failures, 0);
    assert.equal(s.json.stale, false);
    const prom = await readFile(join(site.work, 'textfile', 'airlock.prom'), 'utf8');
    const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(prom)?.[1]);
    assert.ok(Math.abs(metric('airlock_last_import_timestamp_seconds') - Date.parse(String(last.finished)) / 1000) < 1);
    assert.equal(metric('airlock_last_import_artifacts'), 1);
    assert.equal(metric('airlock_last_import_bytes_pushed'), last.bytesPushed);
    assert.equal(metric('airlock_import_failures_total'), 0);
    assert.equal(metric('airlock_stale'), 0);
    assert.match(prom, /^# TYPE airlock_imports_total counter$/m);

    // A failed import (no key that verifies the signature) is recorded, and shown as the last failure.
    const bad = await runCli(['--json', 'bundle', 'import', b1, '--to', site.target.host, '--dest-tls-verify=false', '--state-dir', site.stateDir, '--out-dir', join(site.work, 'out-bad'), '--quiet']);
    assert.equal(bad.code, 3, bad.stderr);
    const s2 = await site.cli(['site', 'status', '--state-dir', site.stateDir]);
    assert.equal(s2.code, 0);
    assert.equal(s2.json.failures, 1);
    const failure = s2.json.lastFailure as { code: string; current: boolean; bundleId: string };
    assert.equal(failure.current, true);
    assert.match(failure.code, /^SIGNATURE_/);

    // Stale: nothing succeeded within --max-age; the status still prints (exit 1), the textfile says so.
    await new Promise((r) => setTimeout(r, 2100));
    const stale = await site.cli(['site', 'status', '--state-dir', site.stateDir, '--max-age', '1s', '--prometheus', join(site.work, 'textfile', 'airlock.prom')]);
    assert.equal(stale.code, 1);
    assert.equal(stale.json.stale, true);
    assert.match(await readFile(join(site.work, 'textfile', 'airlock.prom'), 'utf8'), /^airlock_stale 1$/m);
    const text = await runCli(['site', 'status', '--state-dir', site.stateDir, '--max-age', 'soon']);
    assert.equal(text.code, 2, text.stderr);
  });
});

describe('tag moves, --keep-previous-tags and site rollback', () => {
  let site: Site;
  before(async () => {
    site = await startSite('rollback');
  });
  after(async () => site?.stop());

  it('records the previous digest, keeps it as TAG-prev-<n>, and rolls the tag back to it', async () => {
    const a = await site.publish('demo/app', '1.0', 'roll-a');
    okImport(await site.importBundle(await site.exportTo('r1', ['demo/app:1.0']), ['--keep-previous-tags']));
    assert.equal(await site.tagDigest('demo/app', '1.0'), a);

    // Upstream re-tags 1.0 (a rebuilt image): the next import moves the tag.
    const b = await site.publish('demo/app', '1.0', 'roll-b');
    const r2 = okImport(await site.importBundle(await site.exportTo('r2', ['demo/app:1.0']), ['--keep-previous-tags']));
    assert.deepEqual(r2.tagMoves, [{ repository: 'demo/app', tag: '1.0', previous: a, digest: b, historyTag: '1.0-prev-1' }]);
    assert.equal(await site.tagDigest('demo/app', '1.0'), b);
    assert.equal(await site.tagDigest('demo/app', '1.0-prev-1'), a);
    const receipt = JSON.parse(await readFile(join(String(r2.outDir), 'receipt.json'), 'utf8')) as { tagMoves: unknown[] };
    assert.deepEqual(receipt.tagMoves, r2.tagMoves);
    const audit = (await readFile(join(site.stateDir, 'site', 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(audit.some((e) => e.action === 'tag' && e.tag === '1.0' && e.previous === a && e.digest === b && e.registry === site.target.host));
    assert.ok(audit.some((e) => e.action === 'history-tag' && e.tag === '1.0-prev-1' && e.digest === a));

    // Without --keep-previous-tags the move is still recorded, and no history tag is made.
    const c = await site.publish('demo/app', '1.0', 'roll-c');
    const r3 = okImport(await site.importBundle(await site.exportTo('r3', ['demo/app:1.0'])));
    assert.deepEqual(r3.tagMoves, [{ repository: 'demo/app', tag: '1.0', previous: b, digest: c }]);
    const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${site.target.host}/demo/app`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['1.0', '1.0-prev-1']);

    // Rollback: dry run moves nothing; then c → b, then b → a (each step undoes the import that moved it).
    const dry = await site.cli(['site', 'rollback', `${site.target.host}/demo/app:1.0`, '--state-dir', site.stateDir, '--dest-tls-verify=false', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual([dry.json.from, dry.json.to], [c, b]);
    assert.equal(await site.tagDigest('demo/app', '1.0'), c);
    const back1 = await site.cli(['site', 'rollback', `${site.target.host}/demo/app:1.0`, '--state-dir', site.stateDir, '--dest-tls-verify=false']);
    assert.equal(back1.code, 0, back1.stderr);
    assert.equal(await site.tagDigest('demo/app', '1.0'), b);
    const back2 = await site.cli(['site', 'rollback', `${site.target.host}/demo/app:1.0`, '--state-dir', site.stateDir, '--dest-tls-verify=false']);
    assert.equal(back2.code, 0, back2.stderr);
    assert.deepEqual([back2.json.from, back2.json.to], [b, a]);
    assert.equal(await site.tagDigest('demo/app', '1.0'), a);
    // Nothing recorded before a: a clear error, nothing moved.
    const none = await site.cli(['site', 'rollback', `${site.target.host}/demo/app:1.0`, '--state-dir', site.stateDir, '--dest-tls-verify=false']);
    assert.equal(none.code, 1);
    assert.equal((none.json.error as { code: string }).code, 'NOT_FOUND');
    assert.equal(await site.tagDigest('demo/app', '1.0'), a);
    const audit2 = (await readFile(join(site.stateDir, 'site', 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(audit2.filter((e) => e.action === 'rollback').map((e) => [e.previous, e.digest, e.result]), [[c, b, 'ok'], [b, a, 'ok']]);
    // skopeo pulls the rolled-back tag whole.
    await skopeo(['copy', '--src-tls-verify=false', `docker://${site.target.host}/demo/app:1.0`, `dir:${join(site.work, 'pulled')}`]);
    // Night 3's bundle imported again moves the tag forward; a's newest history tag already points
    // at a, so it is reused (a re-run after a kill between history tag and move does the same).
    const again = okImport(await site.importBundle(join(site.work, 'r3.tar'), ['--keep-previous-tags']));
    assert.deepEqual(again.tagMoves, [{ repository: 'demo/app', tag: '1.0', previous: a, digest: c, historyTag: '1.0-prev-1' }]);
    const tagsAfter = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', `docker://${site.target.host}/demo/app`])).stdout) as { Tags: string[] };
    assert.deepEqual(tagsAfter.Tags.sort(), ['1.0', '1.0-prev-1']);
    assert.equal(await site.tagDigest('demo/app', '1.0'), c);
    // The audit log rotated away: rollback finds the move in the kept receipts.
    await rename(join(site.stateDir, 'site', 'audit.jsonl'), join(site.stateDir, 'site', 'audit.jsonl.1'));
    const rotated = await site.cli(['site', 'rollback', `${site.target.host}/demo/app:1.0`, '--state-dir', site.stateDir, '--dest-tls-verify=false']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.deepEqual([rotated.json.from, rotated.json.to], [c, a]);
    assert.equal(await site.tagDigest('demo/app', '1.0'), a);
  });
});

describe('site prune', () => {
  let site: Site;
  before(async () => {
    site = await startSite('prune');
  });
  after(async () => site?.stop());

  it('deletes only what bundles older than the last N imports delivered; garbage-collect frees it; every kept tag still pulls', async () => {
    // Three nightly bundles: app:1.0 moves every night, lib:1 arrives once (night 1), tool:1 on night 3.
    const app1 = await site.publish('demo/app', '1.0', 'prune-app-1');
    const lib = await site.publish('demo/lib', '1', 'prune-lib');
    okImport(await site.importBundle(await site.exportTo('n1', ['demo/app:1.0', 'demo/lib:1'])));
    const app2 = await site.publish('demo/app', '1.0', 'prune-app-2');
    okImport(await site.importBundle(await site.exportTo('n2', ['demo/app:1.0']), ['--keep-previous-tags']));
    const app3 = await site.publish('demo/app', '1.0', 'prune-app-3');
    const tool = await site.publish('demo/tool', '1', 'prune-tool');
    okImport(await site.importBundle(await site.exportTo('n3', ['demo/app:1.0', 'demo/tool:1'])));
    // Someone at the site tagged night 1's app by hand: a tag outside Airlock's, so it stays.
    // (night 2's app is held only by Airlock's history tag 1.0-prev-1: it goes.)
    await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests',
      `docker://${site.target.host}/demo/app@${app1}`, `docker://${site.target.host}/demo/app:pinned-by-ops`]);

    const args = ['site', 'prune', '--keep', '1', '--state-dir', site.stateDir, '--dest-tls-verify=false'];
    const plan = await site.cli(args);
    assert.equal(plan.code, 0, plan.stderr);
    const del = (plan.json.delete as { repository: string; digest: string; tags: string[] }[]).map((d) => `${d.repository}@${d.digest}`).sort();
    assert.deepEqual(del, [`demo/app@${app2}`, `demo/lib@${lib}`].sort());
    assert.deepEqual((plan.json.protected as { digest: string }[]).map((p) => p.digest), [app1]);
    assert.equal(plan.json.applied, false);
    const gc = plan.json.gc as { blobs: number; bytes: number };
    assert.ok(gc.blobs >= 2 * 3 && gc.bytes > 4 * 64 * 1024, JSON.stringify(gc));
    assert.equal(await site.tagDigest('demo/lib', '1'), lib); // dry run: nothing deleted

    const applied = await site.cli([...args, '--apply']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.json.deleted, 2);
    await assert.rejects(skopeoInspectRaw(`docker://${site.target.host}/demo/lib:1`, site.target));
    await assert.rejects(skopeoInspectRaw(`docker://${site.target.host}/demo/app@${app2}`, site.target));

    // The registry's own garbage collection, then every kept tag pulls whole.
    const before = await du(site.target.storageDir);
    await run(REGISTRY_BIN, ['garbage-collect', join(site.target.dir, 'config.yml')], { maxBuffer: 16 << 20 });
    const freed = before - (await du(site.target.storageDir));
    assert.ok(freed >= gc.bytes * 0.9, `gc freed ${freed} bytes, prune said ${gc.bytes}`);
    for (const [ref, digest] of [['demo/app:1.0', app3], ['demo/tool:1', tool], ['demo/app:pinned-by-ops', app1]] as const) {
      const dir = join(site.work, 'pull', ref.replace(/[/:]/g, '_'));
      await mkdir(dir, { recursive: true });
      await skopeo(['copy', '--src-tls-verify=false', `docker://${site.target.host}/${ref}`, `dir:${dir}`]);
      assert.equal(digestOf(await readFile(join(dir, 'manifest.json'))), digest);
    }
    // A second prune finds nothing left to delete.
    const again = await site.cli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.json.delete, []);
    const audit = (await readFile(join(site.stateDir, 'site', 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(audit.filter((e) => e.action === 'delete' && e.result === 'ok').length, 2);

    // Night 1's bundle imported again after the prune and the collection: its journal no longer
    // vouches for what was deleted, so lib:1 is pushed again and pulls whole.
    okImport(await site.importBundle(join(site.work, 'n1.tar')));
    const libDir = join(site.work, 'pull', 'lib-again');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${site.target.host}/demo/lib:1`, `dir:${libDir}`]);
    assert.equal(digestOf(await readFile(join(libDir, 'manifest.json'))), lib);
  });
});

describe('site prune, stopped half-way', () => {
  let site: Site;
  before(async () => {
    site = await startSite('prune-resume');
  });
  after(async () => site?.stop());

  it('finishes the deletes a stopped prune wrote down: the platform images of an index it already deleted', async () => {
    await site.publish('demo/multi', '1.0', 'resume-index', testIndex('resume-index'));
    okImport(await site.importBundle(await site.exportTo('m1', ['demo/multi:1.0'])));
    await site.publish('demo/multi', '1.0', 'resume-image');
    okImport(await site.importBundle(await site.exportTo('m2', ['demo/multi:1.0'])));
    const args = ['site', 'prune', '--keep', '1', '--state-dir', site.stateDir, '--dest-tls-verify=false'];
    const plan = await site.cli(args);
    assert.equal(plan.code, 0, plan.stderr);
    const del = plan.json.delete as { repository: string; digest: Digest; mediaType: string; size: number; role: string }[];
    assert.deepEqual(del.map((d) => d.role), ['root', 'child', 'child']);

    // As if killed after its first delete: the plan is written down, the index is gone.
    await writeFile(join(site.stateDir, 'site', 'prune-pending.json'), JSON.stringify({ version: 1, target: site.target.host, manifests: del, blobs: [] }));
    const res = await fetch(`${site.target.url}/v2/demo/multi/manifests/${del[0]!.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    // A new plan no longer sees the platform images (nothing names them)…
    const blind = await site.cli(args);
    assert.deepEqual(blind.json.delete, []);
    assert.match(blind.stderr, /stopped with 3 manifest\(s\) to delete/);
    // …but --apply finishes the written-down deletes first.
    const applied = await site.cli([...args, '--apply']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.json.deleted, 2);
    for (const d of del) await assert.rejects(skopeoInspectRaw(`docker://${site.target.host}/demo/multi@${d.digest}`, site.target));
    await assert.rejects(readFile(join(site.stateDir, 'site', 'prune-pending.json')));
    await skopeo(['copy', '--src-tls-verify=false', `docker://${site.target.host}/demo/multi:1.0`, `dir:${join(site.work, 'kept')}`]);
  });
});

async function du(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}
