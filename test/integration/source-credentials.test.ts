/**
 * Issue 23: credentials go only to the registry they belong to. Two real Distribution registries
 * with htpasswd, each with its own user, behind recording proxies that keep every Authorization
 * header the export sent. A password for one never reaches the other, whether it comes from
 * `--src-creds REGISTRY=USER:PASS`, the mirror list's `creds`, an authfile, or stdin; a plain
 * `--src-creds USER:PASS` with two source registries is refused before any request.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, parseJsonOutput, runCli } from '../../fixtures/harness/cli.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const A = { user: 'alice', pass: 'pw-for-A-only' };
const B = { user: 'bob', pass: 'pw-for-B-only' };

describe('source credentials go only to their registry', () => {
  let work: string;
  let regA: TestRegistry;
  let regB: TestRegistry;
  let proxyA: FaultProxy;
  let proxyB: FaultProxy;
  let n = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-srccreds-'));
    regA = await startRegistry({ auth: 'htpasswd', username: A.user, password: A.pass });
    regB = await startRegistry({ auth: 'htpasswd', username: B.user, password: B.pass });
    await seedRegistry(regA, 'small', { kinds: ['image'] });
    await seedRegistry(regB, 'small', { kinds: ['image'] });
    proxyA = await startFaultProxy({ upstream: regA.host });
    proxyB = await startFaultProxy({ upstream: regB.host });
  });
  after(async () => {
    await proxyA?.stop();
    await proxyB?.stop();
    await regA?.stop();
    await regB?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const mirror = async (registries: Record<string, string>, hosts = [proxyA.host, proxyB.host]): Promise<string> => {
    const file = join(work, `mirror-${++n}.yaml`);
    await writeFile(file, [
      'version: 1',
      'registries:',
      ...hosts.map((h) => `  ${h}: { tls: plain-http${registries[h] ? `, ${registries[h]}` : ''} }`),
      'images:',
      ...hosts.map((h) => `  - ${h}/demo/app:1.0`),
      '',
    ].join('\n'));
    return file;
  };
  const exportWith = async (file: string, flags: string[], opts: { input?: string; env?: Record<string, string> } = {}) => {
    proxyA.log.length = 0;
    proxyB.log.length = 0;
    return runCli(['bundle', 'export', '-f', file, '-o', join(work, `out-${++n}.tar`), '--no-cache', '--json', ...flags], opts);
  };
  /** Every Authorization header that reached each registry. */
  const sent = (): { a: Set<string>; b: Set<string> } => ({
    a: new Set(proxyA.log.flatMap((r) => (r.authorization ? [r.authorization] : []))),
    b: new Set(proxyB.log.flatMap((r) => (r.authorization ? [r.authorization] : []))),
  });
  const assertEachOwn = (): void => {
    const { a, b } = sent();
    assert.deepEqual([...a], [basic(A.user, A.pass)], 'registry A saw only its own credentials');
    assert.deepEqual([...b], [basic(B.user, B.pass)], 'registry B saw only its own credentials');
  };

  it('--src-creds REGISTRY=USER:PASS, one per registry: each registry gets its own, and the export succeeds', async () => {
    const r = await exportWith(await mirror({}), [`--src-creds=${proxyA.host}=${A.user}:${A.pass}`, '--src-creds', `${proxyB.host}=${B.user}:${B.pass}`]);
    assert.equal(r.code, 0, describeResult(r));
    assertEachOwn();
  });

  it('credentials for A only: B gets no Authorization at all and the export fails there with AUTH', async () => {
    const r = await exportWith(await mirror({}), [`--src-creds=${proxyA.host}=${A.user}:${A.pass}`]);
    assert.equal(r.code, 1, describeResult(r));
    assert.equal(parseJsonOutput<{ error: { code: string } }>(r).error.code, 'AUTH');
    assert.equal(sent().b.size, 0, 'nothing was sent to B');
    assert.ok(proxyB.log.length > 0, 'B was asked');
  });

  it('a plain --src-creds USER:PASS with two source registries is a usage error, before any request', async () => {
    const r = await exportWith(await mirror({}), [`--src-creds=${A.user}:${A.pass}`]);
    assert.equal(r.code, 2, describeResult(r));
    assert.equal(parseJsonOutput<{ error: { code: string; hint?: string } }>(r).error.code, 'USAGE');
    assert.match(parseJsonOutput<{ error: { hint?: string } }>(r).error.hint ?? '', /REGISTRY=USER:PASS/);
    assert.equal(proxyA.log.length + proxyB.log.length, 0);
  });

  it('with one source registry, plain --src-creds and --src-username/--src-password-stdin go to it', async () => {
    const one = await mirror({}, [proxyA.host]);
    const plain = await exportWith(one, [`--src-creds=${A.user}:${A.pass}`]);
    assert.equal(plain.code, 0, describeResult(plain));
    assert.deepEqual([...sent().a], [basic(A.user, A.pass)]);
    const stdin = await exportWith(one, ['--src-username', A.user, '--src-password-stdin'], { input: `${A.pass}\n` });
    assert.equal(stdin.code, 0, describeResult(stdin));
    assert.deepEqual([...sent().a], [basic(A.user, A.pass)]);
  });

  it("the mirror list's creds and authfile per registry, and --src-authfile: each entry reaches only its registry", async () => {
    // A's authfile also holds a (wrong) entry for B: it must not be read for B.
    const authA = join(work, 'auth-a.json');
    await writeFile(authA, JSON.stringify({ auths: { [proxyA.host]: { auth: Buffer.from(`${A.user}:${A.pass}`).toString('base64') }, [proxyB.host]: { auth: Buffer.from('mallory:wrong').toString('base64') } } }));
    const list = await mirror({ [proxyA.host]: `authfile: ${authA}`, [proxyB.host]: `creds: "${B.user}:${B.pass}"` });
    const r = await exportWith(list, []);
    assert.equal(r.code, 0, describeResult(r));
    assertEachOwn();
    // --src-creds scoped to B beats --src-authfile's entry for B; A's comes from that file.
    const flagAuth = join(work, 'auth-flag.json');
    await writeFile(flagAuth, JSON.stringify({ auths: { [proxyA.host]: { auth: Buffer.from(`${A.user}:${A.pass}`).toString('base64') }, [proxyB.host]: { auth: Buffer.from('mallory:wrong').toString('base64') } } }));
    const r2 = await exportWith(await mirror({}), ['--src-authfile', flagAuth, `--src-creds=${proxyB.host}=${B.user}:${B.pass}`]);
    assert.equal(r2.code, 0, describeResult(r2));
    assertEachOwn();
    // --authfile, the contract's spelling, still works for export.
    const r3 = await exportWith(await mirror({}, [proxyA.host]), ['--authfile', flagAuth]);
    assert.equal(r3.code, 0, describeResult(r3));
  });
});
