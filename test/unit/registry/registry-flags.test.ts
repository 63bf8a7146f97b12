import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryConfigFromFlags } from '../../../src/cli/registry-flags.js';
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
