/**
 * The built CLI as users and scripts meet it: help lists the contract's commands and flags
 * (CONTRACT.md), usage errors exit 2, `--json` failures are one JSON document on stdout with
 * `error.code`, and commands not built yet fail with exit 1, never 0. No registry is needed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeResult, parseJsonOutput, runCli } from '../../fixtures/harness/cli.js';

interface JsonError { version: number; error: { code: string; message: string; exitCode: number; where?: string; hint?: string } }

/** Every `--flag` (and `-x` alias) that a help text shows. */
function flagsOf(help: string): Set<string> {
  return new Set([...help.matchAll(/(?:^|[\s,])(--?[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

const CONTRACT_FLAGS: Record<string, readonly string[]> = {
  'bundle export': ['-f', '--file', '-o', '--output', '--since', '--dry-run', '--sign-key', '--platform', '--split-size', '--cache',
    '--concurrency', '--authfile', '--lock', '--locked', '--src-creds', '--src-cert-dir', '--src-tls-verify'],
  'bundle import': ['--to', '--layout', '--verify-key', '--trusted-root', '--certificate-identity', '--certificate-identity-regexp',
    '--certificate-oidc-issuer', '--insecure-skip-signature', '--dest-creds', '--dest-password-stdin', '--dest-username', '--authfile',
    '--dest-cert-dir', '--dest-tls-verify', '--dry-run', '--out-dir', '--state-dir', '--concurrency', '--require-upstream-signatures'],
  'bundle verify': ['--verify-key', '--trusted-root', '--certificate-identity', '--certificate-identity-regexp', '--certificate-oidc-issuer',
    '--insecure-skip-signature', '--upstream'],
  'bundle inspect': ['--verify-key', '--insecure-skip-signature'],
  'bundle serve': ['--listen', '--layout', '--verify-key', '--insecure-skip-signature'],
  'bundle diff': [],
  'keys generate': ['--out'],
  'registry probe': [],
};
const GLOBAL = ['--json', '--quiet', '--verbose', '--help'];

describe('airlock CLI (e2e)', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-e2e-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('--help lists the command groups, and `bundle --help` every bundle command', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, describeResult(top));
    for (const g of ['bundle', 'keys', 'registry']) assert.match(top.stdout, new RegExp(`airlock ${g}\\b`));
    const bundle = await runCli(['bundle', '--help']);
    assert.equal(bundle.code, 0, describeResult(bundle));
    for (const c of ['export', 'import', 'verify', 'inspect', 'diff', 'serve']) assert.match(bundle.stdout, new RegExp(`airlock bundle ${c}\\b`));
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  for (const [command, flags] of Object.entries(CONTRACT_FLAGS)) {
    it(`\`${command} --help\` lists the contract's flags`, async () => {
      const r = await runCli([...command.split(' '), '--help']);
      assert.equal(r.code, 0, describeResult(r));
      const shown = flagsOf(r.stdout);
      const missing = [...flags, ...GLOBAL].filter((f) => !shown.has(f));
      assert.deepEqual(missing, [], `${command} --help lacks ${missing.join(', ')}`);
    });
  }

  it('exits 2 with a usage error for an unknown command, an unknown flag, a missing argument or no command', async () => {
    const cases = [
      ['bundle', 'frobnicate'],
      ['bundle', 'export', '-f', join(work, 'm.yaml'), '-o', join(work, 'o.tar'), '--frobnicate'],
      ['bundle', 'import', join(work, 'b.tar.zst')], // no --to
      ['bundle', 'export', '-f', join(work, 'm.yaml')], // neither -o nor --dry-run
      ['bundle', 'import', join(work, 'b'), '--to', '127.0.0.1:1', '--layout', 'sideways'],
      [],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${describeResult(r)}`);
      assert.equal(r.stdout, '', `${args.join(' ')}: a usage error printed on stdout`);
      assert.match(r.stderr, /--help/, `${args.join(' ')}: no pointer to the usage`);
      const j = await runCli([...args, '--json']);
      assert.equal(j.code, 2);
      assert.equal(parseJsonOutput<JsonError>(j).error.code, 'USAGE', `${args.join(' ')} --json`);
    }
    const r = await runCli(['bundle', 'frobnicate']);
    assert.match(r.stderr, /frobnicate/, 'the message does not name the unknown command');
  });

  it('--json failures are one JSON document on stdout whose error.code matches the exit code', async () => {
    const badYaml = join(work, 'bad.yaml');
    await writeFile(badYaml, 'version: 1\nimages:\n  - ref: [unclosed\n');
    const cases: { args: string[]; code?: string; exit?: number }[] = [
      { args: ['bundle', 'export', '-f', badYaml, '--dry-run', '--cache', join(work, 'cache')], code: 'MIRROR_INVALID', exit: 2 },
      { args: ['bundle', 'verify', join(work, 'missing.tar.zst'), '--insecure-skip-signature'] },
      { args: ['bundle', 'import', join(work, 'missing.tar.zst'), '--to', '127.0.0.1:1', '--insecure-skip-signature', '--state-dir', join(work, 's'), '--out-dir', join(work, 'o')] },
    ];
    for (const c of cases) {
      const r = await runCli([...c.args, '--json']);
      const doc = parseJsonOutput<JsonError>(r);
      assert.equal(doc.version, 1);
      assert.equal(typeof doc.error.code, 'string');
      assert.equal(doc.error.exitCode, r.code, `${c.args.join(' ')}: exit ${r.code}, JSON says ${doc.error.exitCode}`);
      assert.notEqual(r.code, 0);
      if (c.code !== undefined) assert.equal(doc.error.code, c.code);
      if (c.exit !== undefined) assert.equal(r.code, c.exit);
      assert.ok(r.stdout.trim().startsWith('{') && r.stdout.trim().endsWith('}'), 'stdout holds more than the JSON document');
    }
  });

  it('commands not built yet fail with exit 1 (NOT_IMPLEMENTED), never 0', async () => {
    const cases = [
      ['bundle', 'diff', join(work, 'a.tar.zst'), join(work, 'b.tar.zst')],
      ['bundle', 'serve', join(work, 'a.tar.zst'), '--listen', '127.0.0.1:0'],
      ['chart', 'images', join(work, 'chart.tgz')],
      ['bundle', 'export', '-f', join(work, 'm.yaml'), '--dry-run', '--keyless'],
    ];
    for (const args of cases) {
      const r = await runCli([...args, '--json'], { timeoutMs: 20_000 });
      assert.notEqual(r.code, 0, `${args.join(' ')} exited 0`);
      const doc = parseJsonOutput<JsonError>(r);
      // Other issues build these; once built, the inputs above do not exist and the exit is 2.
      if (doc.error.code === 'NOT_IMPLEMENTED') assert.equal(r.code, 1, args.join(' '));
      assert.equal(doc.error.exitCode, r.code);
    }
  });

  it('`version` prints the version, the commit the CLI was built from, the Node version and that it is not the single executable', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    let head: string;
    try {
      head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      head = 'unknown';
    }
    const r = await runCli(['version', '--json']);
    assert.equal(r.code, 0, describeResult(r));
    const doc = parseJsonOutput<{ version: number; tool: { name: string; version: string; commit: string }; node: string; platform: string; singleExecutable: boolean }>(r);
    assert.equal(doc.version, 1);
    assert.deepEqual({ name: doc.tool.name, version: doc.tool.version }, { name: 'airlock', version: pkg.version });
    // Recorded at build time; `-dirty` when the work tree had changes then.
    assert.ok(doc.tool.commit === head || doc.tool.commit === `${head}-dirty`, `built from ${doc.tool.commit}, HEAD is ${head}: run npm run build`);
    assert.equal(doc.node, process.version);
    assert.equal(doc.platform, `${process.platform}-${process.arch}`);
    assert.equal(doc.singleExecutable, false);
    const human = await runCli(['version']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, new RegExp(`^airlock +${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(human.stdout, new RegExp(`^commit +${head === 'unknown' ? 'unknown' : head}`, 'm'));
    assert.match(human.stdout, /^runs as +node CLI/m);
  });
  it('keeps a V8 code cache per command under $XDG_CACHE_HOME/airlock/v8, used by the next run, and none with AIRLOCK_CODE_CACHE=off', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'airlock-code-cache-'));
    try {
      const cacheDir = join(xdg, 'airlock', 'v8');
      const off = await runCli(['version'], { env: { XDG_CACHE_HOME: xdg, AIRLOCK_CODE_CACHE: 'off' } });
      assert.equal(off.code, 0, describeResult(off));
      assert.equal(existsSync(cacheDir), false);
      const first = await runCli(['version'], { env: { XDG_CACHE_HOME: xdg } });
      assert.equal(first.code, 0, describeResult(first));
      const files = readdirSync(cacheDir);
      assert.equal(files.length, 1, files.join(' '));
      assert.match(files[0]!, new RegExp(`^[0-9a-f]{16}-${process.version.replace(/\./g, '\\.')}-${process.arch}-version\\.v8$`));
      const made = statSync(join(cacheDir, files[0]!)).mtimeMs;
      const second = await runCli(['version'], { env: { XDG_CACHE_HOME: xdg } });
      assert.equal(second.code, 0, describeResult(second));
      assert.equal(second.stdout, first.stdout);
      assert.equal(statSync(join(cacheDir, files[0]!)).mtimeMs, made, 'the cache was accepted, not written again');
      // A damaged cache is not used (and is replaced after a successful run).
      writeFileSync(join(cacheDir, files[0]!), Buffer.alloc(4096, 1), { mode: 0o600 });
      const third = await runCli(['version'], { env: { XDG_CACHE_HOME: xdg } });
      assert.equal(third.code, 0, describeResult(third));
      assert.equal(third.stdout, first.stdout);
      assert.notEqual(readFileSync(join(cacheDir, files[0]!))[0], 1);
      // A failed run writes none.
      const bad = await runCli(['bundle', 'verify', join(xdg, 'absent.tar.zst')], { env: { XDG_CACHE_HOME: xdg } });
      assert.notEqual(bad.code, 0);
      assert.deepEqual(readdirSync(cacheDir), files);
    } finally {
      await rm(xdg, { recursive: true, force: true });
    }
  });
});
