import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCertDir, resolveCredentials } from '../../../src/registry/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('resolveCredentials', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-creds-'));
    await mkdir(join(dir, 'home', '.docker'), { recursive: true });
    await mkdir(join(dir, 'run', 'containers'), { recursive: true });
    await mkdir(join(dir, 'bin'));
    // A fake credential helper: answers for one server, "credentials not found" otherwise.
    await writeFile(join(dir, 'bin', 'docker-credential-fake'), [
      '#!/bin/sh', 'read server',
      'case "$server" in',
      '  helped.example) echo \'{"ServerURL":"helped.example","Username":"helper-user","Secret":"helper-secret"}\' ;;',
      '  https://index.docker.io/v1/) echo \'{"ServerURL":"x","Username":"<token>","Secret":"hub-refresh"}\' ;;',
      '  *) echo "credentials not found in native keychain"; exit 1 ;;',
      'esac', '',
    ].join('\n'));
    await chmod(join(dir, 'bin', 'docker-credential-fake'), 0o755);
    await writeFile(join(dir, 'home', '.docker', 'config.json'), JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
        'docker-only.example': { auth: b64('docker:pw:with:colons') },
        'token.example': { identitytoken: 'idtoken' },
      },
      credHelpers: { 'helped.example': 'fake' },
    }));
    await writeFile(join(dir, 'run', 'containers', 'auth.json'), JSON.stringify({ auths: { 'xdg.example': { auth: b64('xdg:pw') }, 'docker-only.example': { auth: b64('xdg-wins:pw') } } }));
    await writeFile(join(dir, 'flag.json'), JSON.stringify({ auths: { 'http://flag.example:5000/v2/': { auth: b64('flag:pw') } } }));
    await writeFile(join(dir, 'per.json'), JSON.stringify({ auths: { 'flag.example:5000': { auth: b64('per:pw') } } }));
    await writeFile(join(dir, 'store.json'), JSON.stringify({ credsStore: 'fake', auths: { 'stored.example': {} } }));
    await writeFile(join(dir, 'bad.json'), '{not json');
    env = { HOME: join(dir, 'home'), XDG_RUNTIME_DIR: join(dir, 'run'), PATH: `${join(dir, 'bin')}:/usr/bin:/bin` };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('explicit credentials win over every file', async () => {
    const c = await resolveCredentials('xdg.example', { tls: 'verify', credentials: { username: 'u', password: 'p' } }, { env });
    assert.deepEqual([c?.username, c?.password], ['u', 'p']);
  });
  it('a per-registry authfile wins over --authfile, which wins over the default locations; keys may carry a scheme and path', async () => {
    const per = await resolveCredentials('flag.example:5000', { tls: 'verify', authfile: join(dir, 'per.json') }, { env, fallbackAuthfile: join(dir, 'flag.json') });
    assert.equal(per?.username, 'per');
    const flag = await resolveCredentials('flag.example:5000', { tls: 'verify', authfile: join(dir, 'flag.json') }, { env });
    assert.equal(flag?.username, 'flag');
    assert.equal(flag?.source, join(dir, 'flag.json'));
  });
  it('$REGISTRY_AUTH_FILE, then $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json', async () => {
    assert.equal((await resolveCredentials('docker-only.example', { tls: 'verify' }, { env }))?.username, 'xdg-wins');
    assert.equal((await resolveCredentials('docker-only.example', { tls: 'verify' }, { env: { ...env, XDG_RUNTIME_DIR: join(dir, 'none') } }))?.password, 'pw:with:colons');
    assert.equal((await resolveCredentials('flag.example:5000', { tls: 'verify' }, { env: { ...env, REGISTRY_AUTH_FILE: join(dir, 'flag.json') } }))?.username, 'flag');
  });
  it("Docker Hub's aliases all find the index.docker.io entry", async () => {
    for (const r of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      assert.equal((await resolveCredentials(r, { tls: 'verify' }, { env: { HOME: env.HOME! } }))?.username, 'hubuser', r);
    }
  });
  it('identitytoken becomes an identity token', async () => {
    const c = await resolveCredentials('token.example', { tls: 'verify' }, { env });
    assert.equal(c?.identityToken, 'idtoken');
  });
  it('runs credHelpers and credsStore helpers; "not found" falls through', async () => {
    const c = await resolveCredentials('helped.example', { tls: 'verify' }, { env });
    assert.deepEqual([c?.username, c?.password], ['helper-user', 'helper-secret']);
    assert.match(c!.source, /docker-credential-fake/);
    assert.equal(await resolveCredentials('stored.example', { tls: 'verify', authfile: join(dir, 'store.json') }, { env: { PATH: env.PATH! , HOME: join(dir, 'nohome') } }), undefined);
    const hub = await resolveCredentials('docker.io', { tls: 'verify', authfile: join(dir, 'store.json') }, { env: { PATH: env.PATH!, HOME: join(dir, 'nohome') } });
    assert.equal(hub?.identityToken, 'hub-refresh');
  });
  it('nothing found is undefined; a broken or missing --authfile is an error', async () => {
    assert.equal(await resolveCredentials('unknown.example', { tls: 'verify' }, { env }), undefined);
    await assertRejectsCode(resolveCredentials('x', { tls: 'verify', authfile: join(dir, 'bad.json') }, { env }), 'USAGE');
    await assertRejectsCode(resolveCredentials('x', { tls: 'verify', authfile: join(dir, 'missing.json') }, { env }), 'IO');
  });
  it('a missing helper program is an AUTH error naming it', async () => {
    await writeFile(join(dir, 'nohelper.json'), JSON.stringify({ credHelpers: { 'h.example': 'absent' } }));
    await assertRejectsCode(resolveCredentials('h.example', { tls: 'verify', authfile: join(dir, 'nohelper.json') }, { env }), 'AUTH');
  });
});

describe('resolveCredentials: the containers-auth.json(5) search and namespace keys', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-creds-search-'));
    const home = join(dir, 'home');
    for (const d of [join(dir, 'run', 'containers'), join(dir, 'config', 'containers'), join(home, '.docker')]) await mkdir(d, { recursive: true });
    const file = (who: string, hosts: string[]): string => JSON.stringify({ auths: Object.fromEntries(hosts.map((h) => [h, { auth: b64(`${who}:pw`) }])) });
    await writeFile(join(dir, 'run', 'containers', 'auth.json'), file('runtime', ['a.example']));
    await writeFile(join(dir, 'config', 'containers', 'auth.json'), file('config', ['a.example', 'b.example']));
    await writeFile(join(home, '.docker', 'config.json'), file('docker', ['a.example', 'b.example', 'c.example']));
    // docker before 1.7: the auths map at the top level.
    await writeFile(join(home, '.dockercfg'), JSON.stringify({ 'https://d.example': { auth: b64('dockercfg:pw'), email: 'x@y' } }));
    await writeFile(join(dir, 'env.json'), file('envfile', ['e.example']));
    await writeFile(join(dir, 'ns.json'), JSON.stringify({ auths: {
      'ns.example': { auth: b64('host:pw') },
      'ns.example/org': { auth: b64('org:pw') },
      'ns.example/org/team': { auth: b64('team:pw') },
    } }));
    env = { HOME: home, XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CONFIG_HOME: join(dir, 'config') };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const user = async (registry: string, e: Record<string, string>, extra: { repository?: string; authfile?: string } = {}): Promise<string | undefined> =>
    (await resolveCredentials(registry, { tls: 'verify', ...(extra.authfile ? { authfile: extra.authfile } : {}) }, { env: e, ...(extra.repository ? { repository: extra.repository } : {}) }))?.username;

  it('$XDG_RUNTIME_DIR, then $XDG_CONFIG_HOME (default ~/.config), then ~/.docker/config.json, then ~/.dockercfg', async () => {
    assert.equal(await user('a.example', env), 'runtime');
    assert.equal(await user('b.example', env), 'config');
    assert.equal(await user('c.example', env), 'docker');
    assert.equal(await user('d.example', env), 'dockercfg');
    const { XDG_CONFIG_HOME: _x, ...noXdgConfig } = env;
    assert.equal(await user('b.example', noXdgConfig), 'docker', 'without XDG_CONFIG_HOME: ~/.config/containers/auth.json, absent here');
  });

  it('$REGISTRY_AUTH_FILE replaces the search', async () => {
    const e = { ...env, REGISTRY_AUTH_FILE: join(dir, 'env.json') };
    assert.equal(await user('e.example', e), 'envfile');
    assert.equal(await user('a.example', e), undefined);
    assert.equal(await user('c.example', e), undefined);
  });

  it('a namespace key (host/org) matches repositories under it, the longest first; the host key the rest', async () => {
    const authfile = join(dir, 'ns.json');
    assert.equal(await user('ns.example', env, { authfile, repository: 'org/app' }), 'org');
    assert.equal(await user('ns.example', env, { authfile, repository: 'org' }), 'org');
    assert.equal(await user('ns.example', env, { authfile, repository: 'org/team/app' }), 'team');
    assert.equal(await user('ns.example', env, { authfile, repository: 'organisation/app' }), 'host', 'a namespace matches whole path components');
    assert.equal(await user('ns.example', env, { authfile, repository: 'other/app' }), 'host');
    assert.equal(await user('ns.example', env, { authfile }), 'host', 'no repository: only the host key');
  });

  it('credentials scoped to the registry on the command line come after its own authfile and before --authfile and the search', async () => {
    const scoped = { username: 'scoped', password: 'pw', source: '--src-creds for a.example' };
    await writeFile(join(dir, 'own.json'), JSON.stringify({ auths: { 'a.example': { auth: b64('own:pw') } } }));
    const r = (authfile?: string, fallbackAuthfile?: string) => resolveCredentials('a.example', { tls: 'verify', ...(authfile ? { authfile } : {}) }, {
      env, fallbackCredentials: scoped, ...(fallbackAuthfile ? { fallbackAuthfile } : {}),
    });
    assert.equal((await r(join(dir, 'own.json')))?.username, 'own');
    assert.equal((await r(join(dir, 'ns.json'), join(dir, 'own.json')))?.username, 'scoped', 'the own authfile lacks a.example');
    assert.equal((await r(undefined, join(dir, 'own.json')))?.username, 'scoped');
  });
});

describe('loadCertDir', () => {
  it('reads *.crt as CAs and a NAME.cert/NAME.key pair; a lone key is an error', async () => {
    const d = await mkdtemp(join(tmpdir(), 'airlock-certs-'));
    try {
      await writeFile(join(d, 'ca.crt'), 'CA1');
      await writeFile(join(d, 'other.crt'), 'CA2');
      await writeFile(join(d, 'client.cert'), 'CERT');
      await writeFile(join(d, 'client.key'), 'KEY');
      const c = await loadCertDir(d);
      assert.deepEqual(c.ca.map(String), ['CA1', 'CA2']);
      assert.equal(String(c.cert), 'CERT');
      assert.equal(String(c.key), 'KEY');
      await rm(join(d, 'client.cert'));
      await assertRejectsCode(loadCertDir(d), 'USAGE');
      await assertRejectsCode(loadCertDir(join(d, 'missing')), 'IO');
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
