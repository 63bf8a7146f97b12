import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryConfigFromFlags, sourceCredentialsFromFlags } from '../../../src/cli/registry-flags.js';
import { NOOP_LOGGER, type Logger } from '../../../src/log.js';
import { assertRejectsCode } from '../../helpers/assert.js';

describe('registryConfigFromFlags', () => {
  it('--dest-creds, cert dir and authfile', async () => {
    const c = await registryConfigFromFlags({ 'dest-creds': 'me:pa:ss', 'dest-cert-dir': '/certs', authfile: '/a.json', 'dest-tls-verify': true }, 'dest', { logger: NOOP_LOGGER });
    assert.deepEqual(c, { tls: 'verify', certDir: '/certs', credentials: { username: 'me', password: 'pa:ss' }, authfile: '/a.json' });
  });
  it('--dest-username with the password on stdin', async () => {
    const c = await registryConfigFromFlags({ 'dest-username': 'me', 'dest-password-stdin': true }, 'dest', { logger: NOOP_LOGGER, readStdin: async () => 'secret\n' });
    assert.deepEqual(c.credentials, { username: 'me', password: 'secret' });
  });
  it('--src-tls-verify=false means skip-verify (and plain HTTP) with a warning', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...NOOP_LOGGER, warn: (m) => warnings.push(m) };
    const c = await registryConfigFromFlags({ 'src-tls-verify': false }, 'src', { logger });
    assert.equal(c.tls, 'skip-verify');
    assert.equal(warnings.length, 1);
  });
  it('rejects malformed or conflicting credential flags', async () => {
    await assertRejectsCode(registryConfigFromFlags({ 'dest-creds': 'nocolon' }, 'dest', { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(registryConfigFromFlags({ 'dest-creds': 'a:b', 'dest-password-stdin': true, 'dest-username': 'a' }, 'dest', { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(registryConfigFromFlags({ 'dest-password-stdin': true }, 'dest', { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(registryConfigFromFlags({ 'dest-username': 'a' }, 'dest', { logger: NOOP_LOGGER }), 'USAGE');
  });
});

describe('sourceCredentialsFromFlags', () => {
  it('REGISTRY=USER:PASS goes to that registry only; one plain USER:PASS is left unscoped', async () => {
    const c = await sourceCredentialsFromFlags({ 'src-creds': ['ghcr.io=bob:pa=ss:w', '127.0.0.1:5000=alice:x', 'localhost=l:p', 'carol:c=d'] }, { logger: NOOP_LOGGER });
    assert.deepEqual(Object.fromEntries(c.scoped ?? []), {
      'ghcr.io': { username: 'bob', password: 'pa=ss:w' }, '127.0.0.1:5000': { username: 'alice', password: 'x' }, localhost: { username: 'l', password: 'p' },
    });
    assert.deepEqual(c.unscoped, { username: 'carol', password: 'c=d', flag: '--src-creds' });
  });
  it('--src-username with --src-password-stdin is unscoped too', async () => {
    const c = await sourceCredentialsFromFlags({ 'src-username': 'me', 'src-password-stdin': true }, { logger: NOOP_LOGGER, readStdin: async () => 'secret\n' });
    assert.deepEqual(c.unscoped, { username: 'me', password: 'secret', flag: '--src-username/--src-password-stdin' });
  });
  it('refuses two plain ones, one registry twice, and a scoped one without a colon', async () => {
    await assertRejectsCode(sourceCredentialsFromFlags({ 'src-creds': ['a:b', 'c:d'] }, { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(sourceCredentialsFromFlags({ 'src-creds': ['ghcr.io=a:b', 'GHCR.io=c:d'] }, { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(sourceCredentialsFromFlags({ 'src-creds': ['ghcr.io=nocolon'] }, { logger: NOOP_LOGGER }), 'USAGE');
    await assertRejectsCode(sourceCredentialsFromFlags({ 'src-creds': ['a:b'], 'src-username': 'x', 'src-password-stdin': true }, { logger: NOOP_LOGGER }), 'USAGE');
  });
});
