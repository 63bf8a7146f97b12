import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { exitCodeOf } from '../../src/errors.js';
import { createRegistryClient, RegistryError } from '../../src/registry/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { startRegistry, testImage } from '../../fixtures/harness/registry.js';
import { startTokenServer } from '../../fixtures/harness/token-server.js';

const run = promisify(execFile);
const CLI = new URL('../../../bin/airlock.js', import.meta.url).pathname;
type T = { after: (fn: () => Promise<unknown> | void) => void };

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function emptyHome(t: T): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'airlock-home-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

describe('registry errors name the registry and the fix', () => {
  it('wrong password (htpasswd and token): AUTH, exit 1 through the CLI, no secret in the output', async (t) => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    t.after(() => reg.stop());
    const home = await emptyHome(t);
    const client = createRegistryClient(reg.host, { tls: 'plain-http', credentials: { username: 'airlock', password: 'wrong-secret-123' } }, { side: 'dest', env: { HOME: home } });
    t.after(() => client.close());
    const err = await assertRejectsCode(client.repository('app').resolve('v1'), 'AUTH');
    assert.ok(err instanceof RegistryError && err.status === 401);
    assert.ok(err.message.includes(reg.host) && err.hint?.includes('--dest-creds'));
    assert.ok(!`${err.message} ${err.hint} ${err.url}`.includes('wrong-secret-123'));

    const anon = createRegistryClient(reg.host, { tls: 'plain-http' }, { env: { HOME: home } });
    t.after(() => anon.close());
    await assertRejectsCode(anon.ping(), 'AUTH');

    const res = await cli(['registry', 'probe', reg.host, '--dest-tls-verify=false', '--dest-creds', 'airlock:wrong-secret-123', '--json'], { HOME: home });
    assert.equal(res.code, 1);
    assert.equal(JSON.parse(res.stdout).error.code, 'AUTH');
    assert.ok(!res.stdout.includes('wrong-secret-123') && !res.stderr.includes('wrong-secret-123'));

    const tokens = await startTokenServer();
    t.after(() => tokens.stop());
    const treg = await startRegistry({ auth: 'token', token: tokens.registryOptions });
    t.after(() => treg.stop());
    const tclient = createRegistryClient(treg.host, { tls: 'plain-http', credentials: { username: 'airlock', password: 'wrong-secret-123' } }, { env: { HOME: home } });
    t.after(() => tclient.close());
    await assertRejectsCode(tclient.repository('app').resolve('v1'), 'AUTH');
  });

  it('unknown repository and missing manifest: NOT_FOUND with the distribution code, exit 1', async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const client = createRegistryClient(reg.host, { tls: 'plain-http' });
    t.after(() => client.close());
    const unknown = await assertRejectsCode(client.repository('no/such/repo').resolve('v1'), 'NOT_FOUND');
    assert.ok(unknown instanceof RegistryError && unknown.has('NAME_UNKNOWN'));
    assert.equal(exitCodeOf(unknown), 1);
    // The repository travels as a field (import's preflight reads it), not only inside the message.
    assert.deepEqual([unknown.registry, unknown.repository], [reg.host, 'no/such/repo']);
    const repo = client.repository('some/app');
    const img = testImage('errors-missing', { layers: 1, layerSize: 10 });
    const { Readable } = await import('node:stream');
    for (const b of img.all) await repo.push(b.desc as never, Readable.from([b.data]));
    await repo.tag(img.root.desc as never, 'v1');
    const missing = await assertRejectsCode(repo.resolve('v2'), 'NOT_FOUND');
    assert.ok(missing instanceof RegistryError && missing.has('MANIFEST_UNKNOWN'));
    assert.ok(missing.message.includes(`${reg.host}/some/app`));
    assert.deepEqual([missing.registry, missing.repository], [reg.host, 'some/app']);
    await assertRejectsCode(repo.fetchManifest(`sha256:${'1'.repeat(64)}`), 'NOT_FOUND');
    assert.deepEqual(await client.repository('never/pushed').tags(), []);
    assert.deepEqual(await repo.tags(), ['v1']);
  });

  it('TLS failures: untrusted CA and missing client certificate give TLS with the cert-dir hint, exit 1', async (t) => {
    const tlsReg = await startRegistry({ tls: true });
    t.after(() => tlsReg.stop());
    const untrusted = createRegistryClient(tlsReg.host, { tls: 'verify' }, { side: 'dest' });
    t.after(() => untrusted.close());
    const e1 = await assertRejectsCode(untrusted.ping(), 'TLS');
    assert.ok(e1.hint?.includes('--dest-cert-dir'));
    // skip-verify reaches it; the custom CA from a certs.d directory does too.
    const skip = createRegistryClient(tlsReg.host, { tls: 'skip-verify' });
    t.after(() => skip.close());
    await skip.ping();
    // HTTPS and plain HTTP are asked at once; Distribution's TLS port answers plain HTTP too (400),
    // and HTTPS is still the one kept.
    assert.equal(skip.scheme, 'https');
    const trusted = createRegistryClient(tlsReg.host, { tls: 'verify', certDir: tlsReg.ca!.certDir });
    t.after(() => trusted.close());
    await trusted.ping();

    const mtls = await startRegistry({ mtls: true });
    t.after(() => mtls.stop());
    const dir = await mkdtemp(join(tmpdir(), 'airlock-ca-only-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { copyFile } = await import('node:fs/promises');
    await copyFile(mtls.ca!.caCert, join(dir, 'ca.crt'));
    const noClientCert = createRegistryClient(mtls.host, { tls: 'verify', certDir: dir }, { side: 'dest', retries: 1, retryBaseDelayMs: 10 });
    t.after(() => noClientCert.close());
    const e2 = await assertRejectsCode(noClientCert.ping(), 'TLS');
    assert.ok(e2.hint?.includes('client'));

    const res = await cli(['registry', 'probe', tlsReg.host, '--json']);
    assert.equal(res.code, 1);
    assert.equal(JSON.parse(res.stdout).error.code, 'TLS');
  });

  it('skip-verify falls back to plain HTTP for a registry without TLS; unreachable hosts are NETWORK errors', async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const client = createRegistryClient(reg.host, { tls: 'skip-verify' });
    t.after(() => client.close());
    await client.ping();
    assert.equal(client.scheme, 'http');
    const verify = createRegistryClient(reg.host, { tls: 'verify' }, { retries: 0 });
    t.after(() => verify.close());
    await assertRejectsCode(verify.ping(), 'TLS');
    const { freePort } = await import('../../fixtures/harness/registry.js');
    const dead = createRegistryClient(`127.0.0.1:${await freePort()}`, { tls: 'plain-http' }, { retries: 1, retryBaseDelayMs: 10 });
    t.after(() => dead.close());
    await assertRejectsCode(dead.ping(), 'NETWORK');
  });

  it('registry probe reports capabilities as a versioned JSON document and a table', async (t) => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    t.after(() => reg.stop());
    const home = await emptyHome(t);
    const res = await cli(['registry', 'probe', `${reg.host}/team`, '--dest-tls-verify=false', '--dest-creds', `${reg.username}:${reg.password}`, '--json'], { HOME: home });
    assert.equal(res.code, 0, res.stderr);
    const doc = JSON.parse(res.stdout) as Record<string, unknown>;
    assert.equal(doc.version, 1);
    assert.equal(doc.auth, 'basic');
    assert.equal(doc.scheme, 'http');
    for (const k of ['push', 'ociManifest', 'ociIndex', 'dockerManifest', 'dockerManifestList', 'ociArtifact', 'mount', 'monolithicUpload', 'chunkedUpload', 'cleanedUp']) {
      assert.equal(doc[k], true, k);
    }
    assert.equal(doc.referrersApi, false);
    assert.match(String(doc.repository), /^team\/airlock-probe-/);
    assert.ok(res.stderr.includes('warning'), 'the TLS warning is printed');
    const human = await cli(['registry', 'probe', reg.host, '--dest-tls-verify=false', '--dest-creds', `${reg.username}:${reg.password}`], { HOME: home });
    assert.equal(human.code, 0);
    assert.match(human.stdout, /referrers API\s+no/);
  });
});
