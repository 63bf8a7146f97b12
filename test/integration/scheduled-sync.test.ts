/**
 * Issue 21, scheduled sync: the nightly scripts and systemd units in docs/examples/, run as an
 * operator would install them, against real Distribution registries: two nights of DMZ export
 * (the second a delta against the receipt carried back) and site import + `site status`, then a
 * night whose bundle is damaged (the script exits 1, the bundle stays, status shows the failure).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { digestOf, type Descriptor, type Digest } from '../../src/oci/index.js';
import { endpointOf, pushFromLayout } from '../../fixtures/harness/oci-http.js';
import { startRegistry, testImage, writeOciLayout, type TestRegistry } from '../../fixtures/harness/registry.js';
import { CLI, runCli } from '../../fixtures/harness/signed-bundle.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

const run = promisify(execFile);
const EXAMPLES = fileURLToPath(new URL('../../../docs/examples/', import.meta.url));

describe('scheduled sync (docs/examples)', () => {
  let work: string;
  let upstream: TestRegistry;
  let site: TestRegistry;
  let n = 0;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-nightly-'));
    upstream = await startRegistry();
    site = await startRegistry();
  });
  after(async () => {
    await upstream?.stop();
    await site?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function publish(repo: string, tag: string, seed: string): Promise<Digest> {
    const content = testImage(seed, { layers: 2, layerSize: 128 * 1024 });
    const dir = await writeOciLayout(join(work, 'layouts', String(n++)), [{ tag, content }]);
    const root = content.root.desc as Descriptor;
    await pushFromLayout(endpointOf(upstream), dir, root, repo, tag);
    return root.digest;
  }

  it('two nights of export → carry → import, a delta from the carried-back receipt, then a failed night', async () => {
    const wrapper = join(work, 'airlock');
    await writeFile(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    assert.equal((await runCli(['keys', 'generate', '--out', join(work, 'dmz'), '--quiet'])).code, 0);
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', `  - ${upstream.host}/demo/app:1.0`, `  - ${upstream.host}/demo/lib:1`, ''].join('\n'));
    const dmz = {
      AIRLOCK: wrapper, AIRLOCK_MIRROR: mirror, AIRLOCK_SIGN_KEY: join(work, 'dmz.key'), AIRLOCK_OUTBOX: join(work, 'dmz', 'outbox'),
      AIRLOCK_RECEIPT: join(work, 'dmz', 'inbox', 'receipt.json'), AIRLOCK_CACHE: join(work, 'dmz', 'cache'), AIRLOCK_EXPORT_ARGS: '--quiet',
    };
    const prom = join(work, 'site', 'textfile', 'airlock.prom');
    const isolated = {
      AIRLOCK: wrapper, AIRLOCK_TARGET: site.host, AIRLOCK_VERIFY_KEY: join(work, 'dmz.pub'), AIRLOCK_INBOX: join(work, 'site', 'inbox'),
      AIRLOCK_DONE: join(work, 'site', 'imported'), AIRLOCK_STATE_DIR: join(work, 'site', 'state'), AIRLOCK_OUT_DIR: join(work, 'site', 'out'),
      AIRLOCK_RECEIPT_OUTBOX: join(work, 'site', 'to-dmz'), AIRLOCK_PROMETHEUS: prom, AIRLOCK_IMPORT_ARGS: '--dest-tls-verify=false',
    };
    const sh = async (script: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> => {
      try {
        const r = await run('/bin/sh', [join(EXAMPLES, script)], { env: { ...process.env, ...env }, timeout: 120_000 });
        return { code: 0, stderr: r.stderr };
      } catch (err) {
        const e = err as { code?: number; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? String(err) };
      }
    };
    /** The drive: every bundle from the DMZ outbox into the site inbox. */
    const carry = async (): Promise<string[]> => {
      await mkdir(isolated.AIRLOCK_INBOX, { recursive: true });
      const names = (await readdir(dmz.AIRLOCK_OUTBOX)).filter((f) => f.endsWith('.tar.zst'));
      for (const f of names) await rename(join(dmz.AIRLOCK_OUTBOX, f), join(isolated.AIRLOCK_INBOX, f));
      return names;
    };
    const status = async (): Promise<Record<string, unknown>> =>
      JSON.parse((await runCli(['--json', 'site', 'status', '--state-dir', isolated.AIRLOCK_STATE_DIR])).stdout) as Record<string, unknown>;

    // Night 1: a full bundle (no receipt yet).
    const a = await publish('demo/app', '1.0', 'night-app-a');
    const lib = await publish('demo/lib', '1', 'night-lib');
    let r = await sh('airlock-nightly-export.sh', dmz);
    assert.equal(r.code, 0, r.stderr);
    const night1 = await carry();
    assert.equal(night1.length, 1);
    r = await sh('airlock-nightly-import.sh', isolated);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(isolated.AIRLOCK_INBOX), []);
    assert.equal(digestOf(await skopeoInspectRaw(`docker://${site.host}/demo/app:1.0`, site)), a);
    assert.equal(digestOf(await skopeoInspectRaw(`docker://${site.host}/demo/lib:1`, site)), lib);
    assert.match(await readFile(prom, 'utf8'), /^airlock_stale 0$/m);

    // The receipt goes back to the DMZ; upstream rebuilds app:1.0; night 2 carries only the change.
    await mkdir(join(work, 'dmz', 'inbox'), { recursive: true });
    await copyFile(join(isolated.AIRLOCK_RECEIPT_OUTBOX, 'receipt.json'), dmz.AIRLOCK_RECEIPT);
    await new Promise((res) => setTimeout(res, 1100)); // a new time stamp in the bundle name
    const b = await publish('demo/app', '1.0', 'night-app-b');
    r = await sh('airlock-nightly-export.sh', dmz);
    assert.equal(r.code, 0, r.stderr);
    const night2 = await carry();
    assert.equal(night2.length, 1);
    const inspected = JSON.parse((await runCli(['--json', 'bundle', 'inspect', join(isolated.AIRLOCK_INBOX, night2[0]!)])).stdout) as { bases: unknown[]; totals: { bytesFromBases: number } };
    assert.equal(inspected.bases.length, 1);
    assert.ok(inspected.totals.bytesFromBases >= 2 * 128 * 1024, 'lib:1 travels as "in base"');
    r = await sh('airlock-nightly-import.sh', isolated);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(digestOf(await skopeoInspectRaw(`docker://${site.host}/demo/app:1.0`, site)), b);
    assert.equal(digestOf(await skopeoInspectRaw(`docker://${site.host}/demo/app:1.0-prev-1`, site)), a);
    const s2 = await status();
    assert.equal(s2.imports, 2);
    assert.equal((s2.lastImport as { tagsMoved: number }).tagsMoved, 1);

    // Night 3: the drive delivers a damaged bundle. The script fails, the bundle stays in the inbox.
    const bad = join(isolated.AIRLOCK_INBOX, 'site-29991231T000000Z.tar.zst');
    await writeFile(bad, Buffer.alloc(4096, 7));
    r = await sh('airlock-nightly-import.sh', isolated);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(await readdir(isolated.AIRLOCK_INBOX), ['site-29991231T000000Z.tar.zst']);
    const s3 = await status();
    assert.equal(s3.failures, 1);
    assert.equal((s3.lastFailure as { current: boolean; code: string }).current, true);
    assert.match(await readFile(prom, 'utf8'), /^airlock_last_import_failed 1$/m);
  });

  it('the systemd units pass `systemd-analyze verify` (paths pointed at this checkout)', async () => {
    const dir = join(work, 'units');
    await mkdir(dir, { recursive: true });
    for (const f of ['airlock-export.service', 'airlock-export.timer', 'airlock-import.service', 'airlock-import.timer']) {
      const text = (await readFile(join(EXAMPLES, f), 'utf8')).replace('/usr/local/lib/airlock/', EXAMPLES).replace('EnvironmentFile=/etc', 'EnvironmentFile=-/etc');
      await writeFile(join(dir, f), text);
    }
    const units = ['airlock-export.service', 'airlock-export.timer', 'airlock-import.service', 'airlock-import.timer'].map((f) => join(dir, f));
    const r = await run('systemd-analyze', ['verify', ...units]).catch((err: { stderr?: string; code?: number }) => ({ stdout: '', stderr: `exit ${err.code}: ${err.stderr ?? ''}` }));
    assert.equal(r.stderr.trim(), '', r.stderr);
    // The check does catch a broken unit.
    await writeFile(join(dir, 'broken.service'), '[Service]\nType=oneshot\nExecStart=relative/path\n');
    await assert.rejects(run('systemd-analyze', ['verify', join(dir, 'broken.service')]));
  });
});
