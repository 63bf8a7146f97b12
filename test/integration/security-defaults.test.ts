/**
 * Issue 11, security defaults, through the built CLI: TLS verification is on (a self-signed target
 * without its CA is refused, with a hint naming --dest-cert-dir); plain HTTP only when asked;
 * passwords, Authorization values and their base64 never appear in anything the CLI prints (with
 * --verbose, --json, and on error paths with cause chains) nor in the files it writes; the flags
 * that lower security print warnings.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  describeRun, exportTo, makeWorld, mirrorYaml, recordOutcome, runCli, type CliResult, type World,
} from '../../fixtures/harness/reliability.js';

const PASSWORD = 'Sup3r-S3cret-Passw0rd-7f1c';

/** Every form a secret could leak in. */
function secretForms(user: string, password: string): string[] {
  const pair = `${user}:${password}`;
  return [password, Buffer.from(pair).toString('base64'), encodeURIComponent(password), Buffer.from(password).toString('base64')];
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 4 << 20) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function assertNoSecrets(what: string, text: string, forms: readonly string[]): void {
  for (const f of forms) assert.ok(!text.includes(f), `${what} contains a secret (${f.slice(0, 3)}…)`);
  assert.doesNotMatch(text, /authorization:\s*\S/i, `${what} prints an Authorization header`);
  assert.doesNotMatch(text, /\b(Basic|Bearer) [A-Za-z0-9+/=._-]{8,}/, `${what} prints a credential`);
}

describe('security defaults', { concurrency: 1 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let bundle: string;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'security');
    bundle = join(world.ws.dir, 'good.tar');
    await exportTo(world, bundle);
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  const imp = (to: string, state: string, extra: readonly string[]): string[] =>
    ['bundle', 'import', bundle, '--to', to, '--verify-key', world.pub, '--state-dir', join(world.ws.dir, state), '--out-dir', join(world.ws.dir, state, 'out'), ...extra];

  it('TLS verification is on: a self-signed target without its CA is refused with a hint about --dest-cert-dir', async () => {
    const site = await startRegistry({ tls: true, auth: 'htpasswd', password: PASSWORD });
    disposers.push(() => site.stop());
    const creds = `--dest-creds=${site.username}:${PASSWORD}`;
    const refused = await runCli([...imp(site.host, 'tls-1', [creds]), '--json'], { env: world.ws.env });
    assert.equal(refused.code, 1, describeRun(refused));
    assert.equal(refused.errorCode, 'TLS');
    const doc = JSON.parse(refused.stdout) as { error: { hint?: string } };
    assert.ok(doc.error.hint?.includes('--dest-cert-dir'), doc.error.hint);
    const ok = await runCli(imp(site.host, 'tls-2', [creds, '--dest-cert-dir', site.ca!.certDir]), { env: world.ws.env });
    assert.equal(ok.code, 0, describeRun(ok));
    assert.doesNotMatch(ok.stderr, /^warning: TLS/m, 'no TLS warning when verification is on');
    recordOutcome({ group: 'security', scenario: 'TLS verification on (self-signed target without its CA refused)', side: 'import', outcome: 'correct', corrupt: false, detail: 'TLS + hint --dest-cert-dir' });
  });

  it('plain HTTP only when asked, on both sides', async () => {
    const site = await startRegistry();
    disposers.push(() => site.stop());
    const refused = await runCli([...imp(site.host, 'http-1', []), '--json'], { env: world.ws.env });
    assert.equal(refused.code, 1, describeRun(refused));
    assert.equal(refused.errorCode, 'TLS');
    const ok = await runCli(imp(site.host, 'http-2', ['--dest-tls-verify=false']), { env: world.ws.env });
    assert.equal(ok.code, 0, describeRun(ok));
    // Export: a registry the mirror list does not mark plain-http is reached over TLS only.
    const mirror = join(world.ws.dir, 'mirror-tls.yaml');
    await writeFile(mirror, mirrorYaml(world.seeded, upstream.host, { tls: 'verify' }));
    const ex = await runCli(['bundle', 'export', '-f', mirror, '-o', join(world.ws.dir, 'x.tar'), '--json'], { env: world.ws.env });
    assert.equal(ex.code, 1, describeRun(ex));
    assert.equal(ex.errorCode, 'TLS');
    recordOutcome({ group: 'security', scenario: 'plain HTTP only when asked', side: 'export+import', outcome: 'correct', corrupt: false });
  });

  it('--insecure-skip-signature and --dest-tls-verify=false print warnings', async () => {
    const site = await startRegistry();
    disposers.push(() => site.stop());
    const r = await runCli(['bundle', 'import', bundle, '--to', site.host, '--insecure-skip-signature', '--dest-tls-verify=false',
      '--state-dir', join(world.ws.dir, 'warn'), '--out-dir', join(world.ws.dir, 'warn', 'out')], { env: world.ws.env });
    assert.equal(r.code, 0, describeRun(r));
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    assert.ok(warnings.some((l) => l.includes('--insecure-skip-signature')), r.stderr);
    assert.ok(warnings.some((l) => l.includes('--dest-tls-verify=false')), r.stderr);
    recordOutcome({ group: 'security', scenario: '--insecure-skip-signature and --dest-tls-verify=false warn', side: 'import', outcome: 'correct', corrupt: false });
  });

  it('passwords, tokens and Authorization headers never appear in any output or file, including --verbose and error traces', async () => {
    const site = await startRegistry({ auth: 'htpasswd', password: PASSWORD });
    disposers.push(() => site.stop());
    const src = await startRegistry({ auth: 'htpasswd', password: PASSWORD });
    disposers.push(() => src.stop());
    const user = site.username!;
    const forms = secretForms(user, PASSWORD);
    const runs: { name: string; r: CliResult }[] = [];
    const state = (n: string): string => join(world.ws.dir, 'secrets', n);

    // Import: success with --verbose (every request is logged), --json, and the password on stdin.
    runs.push({ name: 'import --verbose', r: await runCli(imp(site.host, 'secrets/a', ['--dest-tls-verify=false', `--dest-creds=${user}:${PASSWORD}`, '--verbose']), { env: world.ws.env }) });
    runs.push({ name: 'import --json', r: await runCli(imp(site.host, 'secrets/b', ['--dest-tls-verify=false', `--dest-creds=${user}:${PASSWORD}`, '--json', '--verbose']), { env: world.ws.env }) });
    runs.push({ name: 'import --dest-password-stdin', r: await runCli(imp(site.host, 'secrets/c', ['--dest-tls-verify=false', '--dest-username', user, '--dest-password-stdin', '--verbose']), { env: world.ws.env, stdin: `${PASSWORD}\n` }) });
    for (const x of runs) assert.equal(x.r.code, 0, `${x.name}: ${describeRun(x.r)}`);
    // Error paths with cause chains: a wrong password (the right one's prefix), a registry that
    // fails every request, a redirect to another host.
    runs.push({ name: 'import wrong password --verbose', r: await runCli(imp(site.host, 'secrets/d', ['--dest-tls-verify=false', `--dest-creds=${user}:${PASSWORD}x`, '--verbose']), { env: world.ws.env }) });
    // HEAD as well as PUT: the site already holds this content, and an import that finds it all in
    // place (tags included) writes nothing.
    const boom = { kind: 'status', status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"boom"}]}' } as const;
    const proxy = await startFaultProxy({ upstream: site.host, rules: [{ method: 'PUT', action: boom }, { method: 'HEAD', action: boom }] });
    disposers.push(() => proxy.stop());
    runs.push({ name: 'import 500s --verbose --json', r: await runCli(imp(proxy.host, 'secrets/e', ['--dest-tls-verify=false', `--dest-creds=${user}:${PASSWORD}`, '--verbose', '--json']), { env: world.ws.env }) });
    assert.equal(runs.at(-2)!.r.code, 1, describeRun(runs.at(-2)!.r));
    assert.equal(runs.at(-1)!.r.code, 1, describeRun(runs.at(-1)!.r));

    // Export from a source with credentials: success and failure, --verbose, and creds in the URL-ish flag.
    const { seedRegistry } = await import('../../fixtures/harness/fixtures.js');
    await seedRegistry(src, 'small', { kinds: ['image'] });
    const mirror = join(world.ws.dir, 'mirror-auth.yaml');
    await writeFile(mirror, ['version: 1', 'registries:', `  ${src.host}: { tls: plain-http }`, 'images:', `  - ${src.host}/demo/app:1.0`, ''].join('\n'));
    runs.push({ name: 'export --verbose', r: await runCli(['bundle', 'export', '-f', mirror, '-o', join(world.ws.dir, 'secrets', 'x.tar'), `--src-creds=${user}:${PASSWORD}`, '--verbose', '--cache', state('cache')], { env: world.ws.env }) });
    assert.equal(runs.at(-1)!.r.code, 0, describeRun(runs.at(-1)!.r));
    runs.push({ name: 'export wrong password --verbose --json', r: await runCli(['bundle', 'export', '-f', mirror, '-o', join(world.ws.dir, 'secrets', 'y.tar'), `--src-creds=${user}:${PASSWORD}0`, '--verbose', '--json', '--cache', state('cache2')], { env: world.ws.env }) });
    assert.equal(runs.at(-1)!.r.code, 1, describeRun(runs.at(-1)!.r));

    for (const { name, r } of runs) assertNoSecrets(name, `${r.stdout}\n${r.stderr}`, forms);
    // Files the tool wrote: receipts, audit logs, image maps, mirror configs, journals, bundles' metadata.
    for (const f of allFiles(join(world.ws.dir, 'secrets'))) assertNoSecrets(f, readFileSync(f, 'latin1'), forms);
    recordOutcome({ group: 'security', scenario: 'no secrets in output (--verbose, --json, error traces, files)', side: 'export+import', outcome: 'correct', corrupt: false, detail: `${runs.length} runs grepped` });
  });
});
