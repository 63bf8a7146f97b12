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
