/**
 * `npm run release` (scripts/release.ts) as an operator meets it: the release files check with
 * the standard tools (sha256sum, openssl); the single executable runs export, verify, inspect
 * and import of a real bundle into a real registry with no node and no node_modules on the host
 * (fixtures/harness/isolated.ts), the paths that start workers included (.tar.zst written and read); the
 * npm package installs with no registry and runs; `--include-tool` carries the executable, and
 * verify/import refuse one that was changed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ExportResult, ImportResult, InspectResult, VerifyResult } from '../../src/ops/index.js';
import { loadPrivateKey, loadPublicKey, signDetached, verifyDetached } from '../../src/signing/index.js';
import { executableName } from '../../src/version.js';
import { describeResult, parseJsonOutput, runCli } from '../../fixtures/harness/cli.js';
import { seedRegistry, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { CHECKOUT, nodeModuleDirs, runIsolated } from '../../fixtures/harness/isolated.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { sha256Of } from '../../fixtures/harness/validate.js';
import { flipByte } from '../../fixtures/harness/hostile.js';

const run = promisify(execFile);
const VERSION = (JSON.parse(await readFile(join(CHECKOUT, 'package.json'), 'utf8')) as { version: string }).version;
const PLATFORM = `${process.platform}-${process.arch}`;
const EXE = executableName(VERSION, PLATFORM);
const LONG = { timeout: 900_000 };

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Run a program to its end; never throws on a non-zero exit. */
function runTool(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}), env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}


describe('release: the single executable and the offline npm package', () => {
  let work: string;
  let release: string;
  let upstream: TestRegistry;
  let seeded: SeedResult;
  let mirror: string;
  const registries: TestRegistry[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-release-'));
    upstream = await startRegistry();
    registries.push(upstream);
    seeded = await seedRegistry(upstream, 'small');
    const keys = await runCli(['keys', 'generate', '--out', join(work, 'dmz')]);
    assert.equal(keys.code, 0, describeResult(keys));
    mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:',
      ...seeded.images.filter((i) => i.tag && (i.kind === 'image' || i.kind === 'index')).map((i) => `  - ${upstream.host}/${i.repository}:${i.tag}`),
      'charts:',
      ...seeded.images.filter((i) => i.kind === 'chart').map((i) => `  - ref: oci://${upstream.host}/${i.repository}\n    version: ${i.tag}`),
      '',
    ].join('\n'));
    // The release, as `npm run release -- --sign-key dmz.key` makes it (npm run build has run).
    release = join(work, 'release');
    const r = await runTool(process.execPath, [join(CHECKOUT, 'dist', 'scripts', 'release.js'), '--out', release, '--sign-key', join(work, 'dmz.key')]);
    assert.equal(r.code, 0, `release failed:\n${r.stdout}\n${r.stderr}`);
  }, LONG);

  after(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('writes the executable, the npm package, the licenses, SHA256SUMS and its signature; sha256sum -c and openssl check them', LONG, async () => {
    assert.deepEqual(readdirSync(release).sort(), ['SHA256SUMS', 'SHA256SUMS.sig', 'THIRD-PARTY-LICENSES.txt', EXE, `airlock-${VERSION}.tgz`].sort());
    const sums = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: release });
    assert.match(sums.stdout, new RegExp(`${EXE}: OK`));
    assert.match(sums.stdout, new RegExp(`airlock-${VERSION}\\.tgz: OK`));
    const ok = await runTool('openssl', ['dgst', '-sha256', '-verify', join(work, 'dmz.pub'), '-signature', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: release });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Verified OK/);

    // One changed byte in the sums, or another key: openssl refuses.
    const altered = join(work, 'SHA256SUMS.altered');
    await writeFile(altered, (await readFile(join(release, 'SHA256SUMS'), 'utf8')).replace(/^./, (c) => (c === '0' ? '1' : '0')));
    const bad = await runTool('openssl', ['dgst', '-sha256', '-verify', join(work, 'dmz.pub'), '-signature', join(release, 'SHA256SUMS.sig'), altered]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /Verification failure/);
    assert.equal((await runCli(['keys', 'generate', '--out', join(work, 'other')])).code, 0);
    const other = await runTool('openssl', ['dgst', '-sha256', '-verify', join(work, 'other.pub'), '-signature', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: release });
    assert.notEqual(other.code, 0);
  });

  it('an Ed25519 key signs the sums too; openssl pkeyutl -rawin checks that signature', LONG, async () => {
    assert.equal((await runCli(['keys', 'generate', '--out', join(work, 'ed'), '--type', 'ed25519'])).code, 0);
    const key = await loadPrivateKey(join(work, 'ed.key'), async () => undefined);
    const sums = await readFile(join(release, 'SHA256SUMS'));
    const sig = join(work, 'ed.sig');
    await writeFile(sig, signDetached(sums, key));
    assert.equal(verifyDetached(sums, await readFile(sig), await loadPublicKey(join(work, 'ed.pub'))), true);
    const ok = await runTool('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(work, 'ed.pub'), '-rawin', '-in', join(release, 'SHA256SUMS'), '-sigfile', sig]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Signature Verified Successfully/);
  });

  describe('the executable on a host with no node and no node_modules', () => {
    let drive: string;
    let exe: string;
    let home: string;
    let tmp: string;
    let site: TestRegistry;
    const isolated = (args: readonly string[]): ReturnType<typeof runIsolated> =>
      runIsolated(exe, args, { cwd: drive, home, tmpdir: tmp });

    before(async () => {
      drive = join(work, 'drive');
      home = join(work, 'home');
      tmp = join(work, 'tmp');
      for (const d of [drive, home, tmp]) await mkdir(d, { recursive: true });
      exe = join(drive, EXE);
      await copyFile(join(release, EXE), exe);
      for (const f of ['dmz.key', 'dmz.pub', 'mirror.yaml']) await copyFile(join(work, f), join(drive, f));
      site = await startRegistry();
      registries.push(site);
    });

    it('the environment really has neither: no node on PATH, node_modules trees hidden, none above the drive', LONG, async () => {
      const probe = await runIsolated('/bin/sh', ['-c', 'command -v node || echo "no node"; for d in "$@"; do echo "$d: $(ls -A "$d" | wc -l) entries"; done; env', 'sh', ...nodeModuleDirs()], { cwd: drive, home, tmpdir: tmp });
      assert.equal(probe.code, 0, probe.stderr);
      assert.match(probe.stdout, /^no node$/m);
      for (const d of nodeModuleDirs()) assert.match(probe.stdout, new RegExp(`^${d}: 0 entries$`, 'm'));
      assert.deepEqual(probe.stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]).sort(), ['HOME', 'PATH', 'PWD', 'TMPDIR']);
      for (let d = drive; d !== dirname(d); d = dirname(d)) assert.equal(existsSync(join(d, 'node_modules')), false, `${d}/node_modules`);
      const v = await isolated(['version', '--json']);
      assert.equal(v.code, 0, v.stderr);
      const doc = JSON.parse(v.stdout) as { tool: { version: string; commit: string }; singleExecutable: boolean; node: string; executable: string };
      assert.equal(doc.singleExecutable, true);
      assert.equal(doc.tool.version, VERSION);
      assert.equal(doc.node, process.version);
      assert.equal(doc.executable, exe);
    });

    it('exports a .tar.zst with --include-tool, verifies, inspects and imports it into a registry, then a no-op re-import', LONG, async () => {
      const exp = await isolated(['bundle', 'export', '-f', 'mirror.yaml', '-o', 'out/site.tar.zst', '--sign-key', 'dmz.key', '--include-tool', '--cache', join(home, 'cache'), '--json']);
      assert.equal(exp.code, 0, describeResult({ ...exp, signal: null }));
      const exported = JSON.parse(exp.stdout) as ExportResult;
      assert.equal(exported.tool?.file, EXE);
      assert.equal(exported.tool?.digest, `sha256:${await sha256File(exe)}`);
      const checksums = await run('sha256sum', ['-c', 'checksums.txt'], { cwd: join(drive, 'out') });
      assert.match(checksums.stdout, /site\.tar\.zst: OK/);
      assert.match(checksums.stdout, new RegExp(`${EXE}: OK`));

      // verify reads the .tar.zst front to back on the zstd worker thread.
      const ver = await isolated(['bundle', 'verify', 'out/site.tar.zst', '--verify-key', 'dmz.pub', '--json']);
      assert.equal(ver.code, 0, ver.stderr);
      const verified = JSON.parse(ver.stdout) as VerifyResult;
      assert.equal(verified.signature.verified, true);
      assert.ok(verified.blobsChecked > 10);
      assert.equal(verified.tool?.status, 'verified');

      const ins = await isolated(['bundle', 'inspect', 'out/site.tar.zst', '--verify-key', 'dmz.pub', '--json']);
      assert.equal(ins.code, 0, ins.stderr);
      const inspected = JSON.parse(ins.stdout) as InspectResult;
      assert.equal(inspected.bundleId, exported.bundleId);
      assert.equal(inspected.tool.executable?.digest, exported.tool?.digest);
      assert.equal(inspected.carriedTool?.status, 'present');

      const imp = await isolated(['bundle', 'import', 'out/site.tar.zst', '--to', site.host, '--dest-tls-verify=false', '--verify-key', 'dmz.pub',
        '--state-dir', join(home, 'state'), '--out-dir', 'imported', '--json']);
      assert.equal(imp.code, 0, imp.stderr);
      const imported = JSON.parse(imp.stdout) as ImportResult;
      assert.ok(imported.blobsPushed > 0);
      assert.equal(imported.tool?.status, 'verified');
      // skopeo, the judge: every artifact in the site registry under the bundle's digest.
      for (const a of imported.artifacts) {
        const raw = await skopeoInspectRaw(`docker://${a.target.replace(/@sha256:.*$/, '').replace(/:[^/:]+$/, '')}@${a.digest}`, site);
        assert.equal(sha256Of(raw), a.digest, a.target);
      }
      const again = await isolated(['bundle', 'import', 'out/site.tar.zst', '--to', site.host, '--dest-tls-verify=false', '--verify-key', 'dmz.pub',
        '--state-dir', join(home, 'state-2'), '--out-dir', 'imported-2', '--json']);
      assert.equal(again.code, 0, again.stderr);
      const noop = JSON.parse(again.stdout) as ImportResult;
      assert.equal(noop.blobsPushed, 0);
      assert.equal(noop.manifestsPushed, 0);
      // The zstd addon's private copy is gone: nothing left in TMPDIR.
      assert.deepEqual(await readdir(tmp), []);
    });

    it('a .tar and a directory bundle need no zstd addon: they verify with TMPDIR unusable, a .tar.zst then fails with IO', LONG, async () => {
      for (const out of ['out/site.tar', 'out/site-dir']) {
        const r = await isolated(['bundle', 'export', '-f', 'mirror.yaml', '-o', out, '--sign-key', 'dmz.key', '--cache', join(home, 'cache'), '--quiet']);
        assert.equal(r.code, 0, r.stderr);
        const v = await isolated(['bundle', 'verify', out, '--verify-key', 'dmz.pub', '--quiet']);
        assert.equal(v.code, 0, v.stderr);
      }
      // TMPDIR is not writable to anyone now: a run that wanted the addon would fail.
      await rm(tmp, { recursive: true });
      await writeFile(tmp, '');
      try {
        const v = await isolated(['bundle', 'verify', 'out/site.tar', '--verify-key', 'dmz.pub', '--quiet']);
        assert.equal(v.code, 0, v.stderr);
        const z = await isolated(['bundle', 'verify', 'out/site.tar.zst', '--verify-key', 'dmz.pub', '--json']);
        assert.equal(z.code, 1, z.stderr);
        assert.equal((JSON.parse(z.stdout) as { error: { code: string } }).error.code, 'IO');
      } finally {
        await rm(tmp, { force: true });
        await mkdir(tmp);
      }
    });

    it('with TMPDIR mounted noexec, a .tar.zst fails with IO and a hint about TMPDIR; a .tar still verifies', LONG, async () => {
      const opts = { cwd: drive, home, tmpdir: tmp, noexecTmpdir: true };
      const z = await runIsolated(exe, ['bundle', 'verify', 'out/site.tar.zst', '--verify-key', 'dmz.pub', '--json'], opts);
      assert.equal(z.code, 1, z.stderr);
      const err = (JSON.parse(z.stdout) as { error: { code: string; hint?: string } }).error;
      assert.equal(err.code, 'IO');
      assert.match(err.hint ?? '', /noexec/);
      const t = await runIsolated(exe, ['bundle', 'verify', 'out/site.tar', '--verify-key', 'dmz.pub', '--quiet'], opts);
      assert.equal(t.code, 0, t.stderr);
    });

    it('verify and import refuse an executable beside the bundle that is not the one recorded (exit 3); inspect reports it', LONG, async () => {
      const out = join(work, 'tampered');
      await cp(join(drive, 'out'), out, { recursive: true });
      await flipByte(join(out, EXE), 4096);
      const v = await runCli(['bundle', 'verify', join(out, 'site.tar.zst'), '--verify-key', join(work, 'dmz.pub'), '--json']);
      assert.equal(v.code, 3, describeResult(v));
      const i = await runCli(['bundle', 'import', join(out, 'site.tar.zst'), '--to', site.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
        '--state-dir', join(work, 'state-t'), '--out-dir', join(work, 'out-t'), '--json']);
      assert.equal(i.code, 3, describeResult(i));
      assert.equal(parseJsonOutput<{ error: { code: string } }>(i).error.code, 'DIGEST_MISMATCH');
      await writeFile(join(out, EXE), 'not airlock');
      const ins = await runCli(['bundle', 'inspect', join(out, 'site.tar.zst'), '--json']);
      assert.equal(ins.code, 0, describeResult(ins));
      assert.equal(parseJsonOutput<InspectResult>(ins).carriedTool?.status, 'different');
      const s = await runCli(['bundle', 'verify', join(out, 'site.tar.zst'), '--verify-key', join(work, 'dmz.pub'), '--json']);
      assert.equal(s.code, 3, describeResult(s));
      // Absent is no failure: the drive may carry it elsewhere.
      await rm(join(out, EXE));
      const a = await runCli(['bundle', 'verify', join(out, 'site.tar.zst'), '--verify-key', join(work, 'dmz.pub'), '--json']);
      assert.equal(a.code, 0, describeResult(a));
      assert.equal(parseJsonOutput<VerifyResult>(a).tool?.status, 'absent');
    });
  });

  it('the npm package installs with no registry reachable and an empty cache, and runs with node but no node_modules', LONG, async () => {
    const prefix = join(work, 'npm-prefix');
    const cache = join(work, 'npm-cache');
    await mkdir(cache);
    const tgz = join(release, `airlock-${VERSION}.tgz`);
    // 127.0.0.1:9 (discard) answers nothing: any download would fail the install.
    const install = await runTool('npm', ['install', '-g', '--prefix', prefix, tgz, '--offline', '--registry', 'http://127.0.0.1:9/', '--cache', cache,
      '--no-audit', '--no-fund', '--no-update-notifier'], { cwd: work });
    assert.equal(install.code, 0, install.stdout + install.stderr);
    const installed = join(prefix, 'lib', 'node_modules', 'airlock');
    assert.equal(existsSync(join(installed, 'node_modules')), false, 'the package brought dependencies');
    const bin = join(prefix, 'bin', 'airlock');
    const home = join(work, 'npm-home');
    const tmp = join(home, 'tmp');
    await mkdir(tmp, { recursive: true });
    const opts = { cwd: home, home, tmpdir: tmp, keepNode: true };
    const v = await runIsolated(bin, ['version', '--json'], opts);
    assert.equal(v.code, 0, v.stderr);
    const doc = JSON.parse(v.stdout) as { tool: { version: string }; singleExecutable: boolean; script: string };
    assert.equal(doc.singleExecutable, false);
    assert.equal(doc.tool.version, VERSION);
    // The zstd addon and the worker threads from the package itself: write and read a .tar.zst.
    await copyFile(join(work, 'dmz.key'), join(home, 'dmz.key'));
    await copyFile(join(work, 'dmz.pub'), join(home, 'dmz.pub'));
    const exp = await runIsolated(bin, ['bundle', 'export', '-f', mirror, '-o', 'site.tar.zst', '--sign-key', 'dmz.key', '--no-cache', '--quiet'], opts);
    assert.equal(exp.code, 0, exp.stderr);
    const ver = await runIsolated(bin, ['bundle', 'verify', 'site.tar.zst', '--verify-key', 'dmz.pub', '--json'], opts);
    assert.equal(ver.code, 0, ver.stderr);
    assert.equal((JSON.parse(ver.stdout) as VerifyResult).signature.verified, true);
    // It is the node CLI with no executable beside it: --include-tool refuses, with a hint.
    const inc = await runIsolated(bin, ['bundle', 'export', '-f', mirror, '-o', 'x.tar.zst', '--include-tool', '--no-cache', '--json'], opts);
    assert.equal(inc.code, 2, inc.stdout + inc.stderr);
    assert.equal((JSON.parse(inc.stdout) as { error: { code: string } }).error.code, 'USAGE');
  });

  it('the node CLI of a checkout carries the executable `npm run release` built there, and only that build', LONG, async () => {
    // A checkout as the DMZ has it: package.json, bin/ and the built CLI, node_modules beside.
    const checkout = join(work, 'checkout');
    await mkdir(join(checkout, 'dist'), { recursive: true });
    await copyFile(join(CHECKOUT, 'package.json'), join(checkout, 'package.json'));
    await cp(join(CHECKOUT, 'bin'), join(checkout, 'bin'), { recursive: true });
    await cp(join(CHECKOUT, 'dist', 'cli'), join(checkout, 'dist', 'cli'), { recursive: true });
    await symlink(join(CHECKOUT, 'node_modules'), join(checkout, 'node_modules'));
    const cli = join(checkout, 'bin', 'airlock.js');
    const exportTo = (out: string): Promise<{ code: number | null; stdout: string; stderr: string }> => runTool(process.execPath, [
      cli, 'bundle', 'export', '-f', mirror, '-o', out, '--sign-key', join(work, 'dmz.key'), '--include-tool', '--no-cache', '--json',
    ]);

    const none = await exportTo(join(work, 'co-none', 'b.tar'));
    assert.equal(none.code, 2, none.stderr);
    assert.equal((JSON.parse(none.stdout) as { error: { code: string } }).error.code, 'USAGE');

    // Something else under the executable's name: refused, it does not say it is this build.
    await mkdir(join(checkout, 'dist', 'release'));
    await copyFile('/bin/true', join(checkout, 'dist', 'release', EXE));
    const wrong = await exportTo(join(work, 'co-wrong', 'b.tar'));
    assert.equal(wrong.code, 2, wrong.stderr);

    await copyFile(join(release, EXE), join(checkout, 'dist', 'release', EXE));
    const ok = await exportTo(join(work, 'co-ok', 'b.tar'));
    assert.equal(ok.code, 0, ok.stderr);
    const r = JSON.parse(ok.stdout) as ExportResult;
    assert.equal(r.tool?.digest, `sha256:${await sha256File(join(release, EXE))}`);
    assert.equal(await sha256File(join(work, 'co-ok', EXE)), await sha256File(join(release, EXE)));
    const v = await runCli(['bundle', 'verify', join(work, 'co-ok', 'b.tar'), '--verify-key', join(work, 'dmz.pub'), '--json']);
    assert.equal(v.code, 0, describeResult(v));
    assert.equal(parseJsonOutput<VerifyResult>(v).tool?.status, 'verified');
    const sums = await run('sha256sum', ['-c', 'checksums.txt'], { cwd: join(work, 'co-ok') });
    assert.match(sums.stdout, new RegExp(`${EXE}: OK`));
  });
});
