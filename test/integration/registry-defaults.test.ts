/**
 * Issue 23: what podman and skopeo users have set up already is used without flags. A TLS
 * registry whose CA sits in a certs.d directory for its HOST:PORT (containers-certs.d(5):
 * ~/.config/containers/certs.d, /etc/containers/certs.d, then /etc/docker/certs.d; the roots
 * replaced here through AIRLOCK_CERTS_D) is trusted with no --src-cert-dir / --dest-cert-dir.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, parseJsonOutput, runCli } from '../../fixtures/harness/cli.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

describe('certs.d directories used by default', () => {
  let work: string;
  let reg: TestRegistry;
  let containersRoot: string;
  let dockerRoot: string;
  let emptyRoot: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-certsd-'));
    reg = await startRegistry({ tls: true });
    await seedRegistry(reg, 'small', { kinds: ['image'] });
    containersRoot = join(work, 'containers', 'certs.d');
    dockerRoot = join(work, 'docker', 'certs.d');
    emptyRoot = join(work, 'empty', 'certs.d');
    await mkdir(join(dockerRoot, reg.host), { recursive: true });
    await mkdir(containersRoot, { recursive: true });
    await mkdir(emptyRoot, { recursive: true });
    // Only the CA: what `podman` needs for a registry with a private CA.
    await copyFile(reg.ca!.caCert, join(dockerRoot, reg.host, 'ca.crt'));
  });
  after(async () => {
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('registry probe (destination side): untrusted without one, trusted through /etc/docker/certs.d/HOST:PORT when /etc/containers/certs.d has none', async () => {
    const none = await runCli(['registry', 'probe', reg.host, '--json'], { env: { AIRLOCK_CERTS_D: emptyRoot } });
    assert.equal(none.code, 1, describeResult(none));
    assert.equal(parseJsonOutput<{ error: { code: string } }>(none).error.code, 'TLS');
    const found = await runCli(['registry', 'probe', reg.host, '--json'], { env: { AIRLOCK_CERTS_D: `${containersRoot}:${dockerRoot}` } });
    assert.equal(found.code, 0, describeResult(found));
    assert.equal(parseJsonOutput<{ scheme: string }>(found).scheme, 'https');
  });

  it('export (source side) reads the CA from the first root that has the host, with no --src-cert-dir', async () => {
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, ['version: 1', 'images:', `  - ${reg.host}/demo/app:1.0`, ''].join('\n'));
    const out = join(work, 'out.tar');
    const r = await runCli(['bundle', 'export', '-f', mirror, '-o', out, '--no-cache', '--json', '-v'], { env: { AIRLOCK_CERTS_D: `${emptyRoot}:${dockerRoot}` } });
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stderr, new RegExp(`certificates from ${join(dockerRoot, reg.host).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
});
