import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Descriptor } from '../../src/oci/index.js';
import { createRegistryClient, createRegistryPool, type RegistryRepository } from '../../src/registry/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { startFaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, testImage, type TestContent } from '../../fixtures/harness/registry.js';
import { startTokenServer, type TestTokenServer } from '../../fixtures/harness/token-server.js';

type T = { after: (fn: () => Promise<unknown> | void) => void };
const USER = { username: 'airlock', password: 's3cret-pass' };

async function pushAll(repo: RegistryRepository, content: TestContent, tag: string): Promise<void> {
  for (const b of content.all) await repo.push(b.desc as Descriptor, Readable.from([b.data]));
  await repo.tag(content.root.desc as Descriptor, tag);
}

async function tokenRegistry(t: T, o: Parameters<typeof startTokenServer>[0] = {}): Promise<{ tokens: TestTokenServer; host: string }> {
  const tokens = await startTokenServer(o);
  t.after(() => tokens.stop());
  const reg = await startRegistry({ auth: 'token', token: tokens.registryOptions });
  t.after(() => reg.stop());
  return { tokens, host: reg.host };
}

async function tempDir(t: T): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'airlock-auth-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

describe('registry auth', () => {
  it('bearer tokens: one token per scope set, anonymous pull tokens, push needs credentials', async (t) => {
    const { tokens, host } = await tokenRegistry(t);
    const writer = createRegistryClient(host, { tls: 'plain-http', credentials: USER });
    t.after(() => writer.close());
    const img = testImage('auth-bearer', { layers: 2, layerSize: 2000 });
    await pushAll(writer.repository('team/app'), img, 'v1');
    assert.equal(writer.authScheme, 'bearer');
    // All pushes to one repository share one token (pull,push scope), cached.
    const pushTokens = tokens.requests.filter((r) => r.status === 200 && r.user === 'airlock');
    assert.equal(pushTokens.length, 1);

    const anon = createRegistryClient(host, { tls: 'plain-http' }, { env: { HOME: await tempDir(t) } });
    t.after(() => anon.close());
    const repo = anon.repository('team/app');
    assert.equal((await repo.resolve('v1')).digest, img.root.desc.digest);
    assert.equal((await repo.fetchManifest('v1')).desc.digest, img.root.desc.digest);
    assert.ok(tokens.requests.some((r) => r.user === undefined && r.status === 200), 'an anonymous token was issued');
    const layer = img.all[1]!;
    await assertRejectsCode(repo.push({ ...layer.desc, digest: layer.desc.digest } as Descriptor, Readable.from([layer.data])), 'AUTH');
  });

  it('refreshes a token the registry refuses (expired on arrival) and one that ran out on the client', async (t) => {
    const { tokens, host } = await tokenRegistry(t);
    const client = createRegistryClient(host, { tls: 'plain-http', credentials: USER });
    t.after(() => client.close());
    const repo = client.repository('refresh/app');
    const img = testImage('auth-refresh', { layers: 1, layerSize: 1000 });
    tokens.expireNext(1);
    await pushAll(repo, img, 'v1');
    const afterFirst = tokens.issued();
    assert.ok(afterFirst >= 2, 'the refused token was replaced');
    // Client-side expiry: a 1 s token is not reused after it ran out.
    tokens.setExpiresIn(1);
    await repo.resolve('v1');
    const beforeWait = tokens.issued();
    await new Promise((r) => setTimeout(r, 1200));
    await repo.resolve('v1');
    assert.ok(tokens.issued() > beforeWait, 'a new token after the old one expired');
  });

  it('mounts a blob from another repository with a token covering both, sending no blob bytes', async (t) => {
    const { host } = await tokenRegistry(t);
    const proxy = await startFaultProxy({ upstream: host });
    t.after(() => proxy.stop());
    const client = createRegistryClient(proxy.host, { tls: 'plain-http', credentials: USER });
    t.after(() => client.close());
    const img = testImage('auth-mount', { layers: 1, layerSize: 200_000 });
    await pushAll(client.repository('src/app'), img, 'v1');
    proxy.resetCounters();
    const dst = client.repository('dst/app');
    for (const b of img.all.slice(0, -1)) assert.equal(await dst.mount(b.desc as Descriptor, 'src/app'), true);
    assert.equal(proxy.counters.bytesIn, 0, 'no blob bytes were sent');
    assert.equal(await dst.exists(img.all[1]!.desc as Descriptor), true);
    // A blob the source does not have: 202, the session is cancelled, false.
    const other = testImage('auth-mount-missing', { layers: 1, layerSize: 10 }).all[1]!;
    assert.equal(await dst.mount(other.desc as Descriptor, 'src/app'), false);
  });

  it('reads credentials from an authfile (auths.*.auth) and an identity token through the OAuth2 refresh grant', async (t) => {
    const { tokens, host } = await tokenRegistry(t, { refreshTokens: { 'refresh-me': 'airlock' } });
    const dir = await tempDir(t);
    const authfile = join(dir, 'auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [`http://${host}`]: { auth: Buffer.from('airlock:s3cret-pass').toString('base64') } } }));
    const viaAuth = createRegistryClient(host, { tls: 'plain-http', authfile }, { env: { HOME: dir } });
    t.after(() => viaAuth.close());
    await pushAll(viaAuth.repository('file/app'), testImage('auth-file', { layers: 1, layerSize: 100 }), 'v1');

    const dockerDir = join(dir, '.docker');
    await import('node:fs/promises').then((fs) => fs.mkdir(dockerDir));
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [host]: { identitytoken: 'refresh-me' } } }));
    const viaIdentity = createRegistryClient(host, { tls: 'plain-http' }, { env: { HOME: dir } });
    t.after(() => viaIdentity.close());
    await pushAll(viaIdentity.repository('identity/app'), testImage('auth-identity', { layers: 1, layerSize: 100 }), 'v1');
    assert.ok(tokens.requests.some((r) => r.method === 'POST' && r.user === 'airlock' && r.status === 200));
  });

  it('runs a credential helper named in credHelpers (htpasswd registry)', async (t) => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    t.after(() => reg.stop());
    const dir = await tempDir(t);
    const helper = join(dir, 'docker-credential-airlocktest');
    await writeFile(helper, `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"${reg.username}","Secret":"${reg.password}"}' "$server"\n`);
    await chmod(helper, 0o755);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'airlocktest' } }));
    const env = { HOME: dir, DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH ?? ''}` };
    const pool = createRegistryPool({ defaults: { tls: 'plain-http' }, clientOptions: { env } });
    t.after(() => pool.closeAll());
    const client = pool.client(reg.host);
    assert.equal(pool.client(reg.host), client, 'one client per host');
    await pushAll(client.repository('helper/app'), testImage('auth-helper', { layers: 1, layerSize: 100 }), 'v1');
    assert.equal(client.authScheme, 'basic');
  });
});
