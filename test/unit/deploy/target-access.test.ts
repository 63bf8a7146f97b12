import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { targetAccess } from '../../../src/deploy/index.js';
import type { RegistryClient } from '../../../src/registry/index.js';
import { tempDir } from '../archive/temp.js';

/** Only what targetAccess reads of a client: what it settled on with the target. */
const client = (scheme: 'http' | 'https' | undefined, authScheme: RegistryClient['authScheme']): RegistryClient =>
  ({ scheme, authScheme }) as unknown as RegistryClient;

const CERT = (n: string): string => `-----BEGIN CERTIFICATE-----\nMIIB${n}\n-----END CERTIFICATE-----`;

describe('targetAccess (how import reached the target, for the mirror configs)', () => {
  it('--dest-tls-verify=false: the scheme the client found, not the flag\'s', async () => {
    assert.deepEqual(await targetAccess(client('http', 'none'), { tls: 'skip-verify' }), { scheme: 'http', skipVerify: false, auth: 'none', clientCertificate: false });
    assert.deepEqual(await targetAccess(client('https', 'basic'), { tls: 'skip-verify' }), { scheme: 'https', skipVerify: true, auth: 'basic', clientCertificate: false });
  });

  it('carries only the certificate blocks of the cert dir\'s *.crt files, and notes a client certificate without copying it', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'a.crt'), `${CERT('a')}\n`);
    // A key pasted into a .crt by mistake must not travel into the out-dir.
    await writeFile(join(dir, 'b.crt'), `-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n${CERT('b')}\n`);
    await writeFile(join(dir, 'client.cert'), `${CERT('c')}\n`);
    await writeFile(join(dir, 'client.key'), '-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n');
    const a = await targetAccess(client('https', 'bearer'), { tls: 'verify', certDir: dir });
    assert.equal(a.caPem, `${CERT('a')}\n${CERT('b')}\n`);
    assert.equal(a.clientCertificate, true);
    assert.equal(a.skipVerify, false);
    assert.equal(a.auth, 'bearer');
  });

  it('before any answer: the scheme the config fixes, https for skip-verify', async () => {
    assert.equal((await targetAccess(client(undefined, undefined), { tls: 'plain-http' })).scheme, 'http');
    assert.equal((await targetAccess(client(undefined, undefined), { tls: 'skip-verify' })).scheme, 'https');
    assert.equal((await targetAccess(client(undefined, undefined), { tls: 'verify' })).auth, 'unknown');
  });
});
