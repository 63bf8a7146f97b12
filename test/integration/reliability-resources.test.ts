/**
 * Issue 11, resource faults and load. Disk full during export (the output on a 1 MiB tmpfs) and
 * during import journaling (the state dir on a full tmpfs): exit 1 with a coded IO error, nothing
 * under the final output name, no tag on incomplete content, and the re-run with space finishes.
 * Load: a bundle of 500 small images imported with concurrency 16, in this process, with the
 * file descriptors and sockets counted before and after.
 *
 * tmpfs needs root (CI and this machine run as root). Where `mount` is refused, the disk-full
 * scenarios record "skipped" with the reason, and the test asserts that reason is a permission
 * refusal, not something else.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importBundle } from '../../src/ops/index.js';
import { loadPublicKey } from '../../src/signing/index.js';
import { forEachConcurrent } from '../../src/util/index.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  checkRegistry, cleanBaseline, countFds, describeRun, exportTo, makeWorld, recordOutcome, runCli, type World,
} from '../../fixtures/harness/reliability.js';

const LOAD_IMAGES = 500;

/** Mount a tmpfs of `size` at `dir`; the reason when the system refuses. */
function mountTmpfs(dir: string, size: string): { ok: true } | { ok: false; reason: string } {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return { ok: true };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { ok: false, reason: `${e.stderr?.toString().trim() || e.message}` };
  }
}

function umount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

/** Asserts the only acceptable reason to skip a disk-full scenario: no permission to mount. */
function assertPermissionReason(reason: string): void {
  assert.match(reason, /permission denied|not permitted|must be superuser|only root|EPERM/i, `mount failed for another reason: ${reason}`);
}

describe('reliability: disk full and load', { concurrency: 1 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let zst: string;
  let cleanTags: Readonly<Record<string, string>>;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'resources');
    zst = join(world.ws.dir, 'good.tar.zst');
    await exportTo(world, zst);
    const clean = await startRegistry();
    disposers.push(() => clean.stop());
    cleanTags = (await cleanBaseline(world, zst, clean)).tags;
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  it('disk full during export: exit 1, IO, nothing under the final name', async () => {
    const small = join(world.ws.dir, 'small-export');
    await mkdir(small, { recursive: true });
    const m = mountTmpfs(small, '1m');
    if (!m.ok) {
      assertPermissionReason(m.reason);
      recordOutcome({ group: 'resources', scenario: 'disk full during export', side: 'export', outcome: 'skipped', corrupt: false, detail: `tmpfs mount refused: ${m.reason}` });
      return;
    }
    disposers.push(async () => umount(small));
    const out = join(small, 'site.tar');
    const r = await runCli(['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--json', '--cache', join(world.ws.dir, 'cache-df')], { env: world.ws.env });
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.errorCode, 'IO', describeRun(r));
    assert.match(r.stderr, /^error: .*\n(.*\n)*\s+hint: /m, 'a clear message with a hint');
    assert.ok(!existsSync(out), 'no partial bundle under the final name');
    const left = readdirSync(small);
    umount(small);
    // With space, the same command finishes.
    const again = await runCli(['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--cache', join(world.ws.dir, 'cache-df')], { env: world.ws.env });
    assert.equal(again.code, 0, describeRun(again));
    recordOutcome({ group: 'resources', scenario: 'disk full during export', side: 'export', outcome: 'clear-error', corrupt: false, detail: `exit 1 IO; left on the full disk: ${left.join(', ') || 'nothing'}` });
    assert.deepEqual(left.filter((n) => n === 'site.tar'), []);
  });

  it('disk full during import journaling: exit 1, IO, no tag on incomplete content; the re-run finishes', async () => {
    const stateDisk = join(world.ws.dir, 'small-state');
    await mkdir(stateDisk, { recursive: true });
    const m = mountTmpfs(stateDisk, '256k');
    if (!m.ok) {
      assertPermissionReason(m.reason);
      recordOutcome({ group: 'resources', scenario: 'disk full during import journaling', side: 'import', outcome: 'skipped', corrupt: false, detail: `tmpfs mount refused: ${m.reason}` });
      return;
    }
    disposers.push(async () => umount(stateDisk));
    // Fill it: the journal directory can be made, its first line cannot be written.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(stateDisk, 'filler')}`, 'bs=4k'], { stdio: 'pipe' });
    } catch {
      // dd stops with ENOSPC: that is the point
    }
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const state = join(stateDisk, 'state');
    const outDir = join(world.ws.dir, 'df-import-out');
    const args = ['bundle', 'import', zst, '--to', target.host, '--verify-key', world.pub, '--dest-tls-verify=false', '--state-dir', state, '--out-dir', outDir, '--json'];
    const r = await runCli(args, { env: world.ws.env });
    const c = await checkRegistry(target);
    const wrong = Object.entries(c.tags).filter(([k, d]) => cleanTags[k] !== d);
    recordOutcome({ group: 'resources', scenario: 'disk full during import journaling', side: 'import', outcome: r.code === 1 && r.errorCode === 'IO' ? 'clear-error' : 'failed', corrupt: c.problems.length > 0 || wrong.length > 0, detail: `exit ${r.code} ${r.errorCode ?? ''}; ${Object.keys(c.tags).length} tags set before the failure` });
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.errorCode, 'IO', describeRun(r));
    assert.deepEqual(c.problems, []);
    assert.deepEqual(wrong, []);
    assert.ok(!existsSync(join(outDir, 'receipt.json')), 'no receipt for an import that did not finish');
    umount(stateDisk);
    const again = await runCli(args, { env: world.ws.env });
    assert.equal(again.code, 0, describeRun(again));
    assert.deepEqual((await checkRegistry(target)).tags, cleanTags);
  });

  it(`load: ${LOAD_IMAGES} small images imported with --concurrency 16, no errors, no leaked sockets or descriptors`, async () => {
    const src = await startRegistry();
    disposers.push(() => src.stop());
    const refs = await seedSmallImages(src, LOAD_IMAGES);
    const mirror = join(world.ws.dir, 'mirror-load.yaml');
    await writeFile(mirror, ['version: 1', 'defaults:', '  referrers: false', 'registries:', `  ${src.host}: { tls: plain-http }`, 'images:', ...refs.map((r) => `  - ${r}`), ''].join('\n'));
    const bundle = join(world.ws.dir, 'load.tar.zst');
    const ex = await runCli(['bundle', 'export', '-f', mirror, '-o', bundle, '--sign-key', world.key, '--concurrency', '16', '--cache', join(world.ws.dir, 'cache-load')], { env: world.ws.env, timeoutMs: 300_000 });
    assert.equal(ex.code, 0, describeRun(ex));

    const target = await startRegistry();
    disposers.push(() => target.stop());
    const key = await loadPublicKey(world.pub);
    const fdsBefore = await countFds();
    const result = await importBundle({
      bundles: [bundle], to: target.host, signature: { keys: [key], insecureSkipSignature: false },
      dest: { tls: 'plain-http' }, stateDir: join(world.ws.dir, 'load-state'), outDir: join(world.ws.dir, 'load-out'), concurrency: 16,
    });
    // Sockets close asynchronously after the agent is closed: give them a moment, then count.
    await new Promise((r) => setTimeout(r, 300));
    const fdsAfter = await countFds();
    assert.equal(result.artifacts.length, LOAD_IMAGES);
    assert.equal(result.tagsSet, LOAD_IMAGES);
    const c = await checkRegistry(target);
    assert.deepEqual(c.problems, []);
    assert.equal(Object.keys(c.tags).length, LOAD_IMAGES);
    recordOutcome({
      group: 'load', scenario: `${LOAD_IMAGES} small images, --concurrency 16`, side: 'import', outcome: 'correct', corrupt: false,
      detail: `fds ${fdsBefore.total}→${fdsAfter.total}, sockets ${fdsBefore.sockets}→${fdsAfter.sockets}, ${result.blobsPushed} blobs pushed`,
    });
    assert.ok(fdsAfter.sockets <= fdsBefore.sockets, `leaked sockets: ${fdsBefore.sockets} → ${fdsAfter.sockets}`);
    assert.ok(fdsAfter.total <= fdsBefore.total, `leaked descriptors: ${fdsBefore.total} → ${fdsAfter.total}`);
  });
});

/**
 * Push `n` one-layer images (random 256-byte layer, unique config) into 25 repositories with
 * node:http (POST + monolithic PUT, then the manifest): the independent way in, like oci-http.ts.
 */
async function seedSmallImages(reg: TestRegistry, n: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const send = (method: string, path: string, headers: Record<string, string | number>, body?: Buffer): Promise<{ status: number; location?: string }> =>
    new Promise((resolve, reject) => {
      const req = request(new URL(path, reg.url), { method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const pushBlob = async (repo: string, data: Buffer): Promise<string> => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const start = await send('POST', `/v2/${repo}/blobs/uploads/`, { 'content-length': 0 });
    assert.equal(start.status, 202);
    const u = new URL(start.location!, reg.url);
    u.searchParams.set('digest', digest);
    const put = await send('PUT', `${u.pathname}${u.search}`, { 'content-type': 'application/octet-stream', 'content-length': data.length }, data);
    assert.equal(put.status, 201);
    return digest;
  };
  const refs: string[] = [];
  try {
    await forEachConcurrent([...Array(n).keys()], 16, async (i) => {
      const repo = `load/app-${i % 25}`;
      const layer = randomBytes(256);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] }, config: { Env: [`N=${i}`] } }));
      const [l, c] = [await pushBlob(repo, layer), await pushBlob(repo, config)];
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l, size: layer.length }],
      }));
      const res = await send('PUT', `/v2/${repo}/manifests/v${i}`, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': manifest.length }, manifest);
      assert.equal(res.status, 201);
      refs.push(`${reg.host}/${repo}:v${i}`);
    });
  } finally {
    agent.destroy();
  }
  return refs.sort();
}
