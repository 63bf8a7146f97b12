/**
 * Issue 23: HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured at export, for source registries
 * and `url:` files, through a real CONNECT proxy on loopback (fixtures/harness/connect-proxy.ts); the
 * import target is reached directly even with them set.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, parseJsonOutput, runCli } from '../../fixtures/harness/cli.js';
import { startConnectProxy, type ConnectProxy } from '../../fixtures/harness/connect-proxy.js';
import { seedRegistry } from '../../fixtures/harness/fixtures.js';
import { freePort, startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

const FILE = Buffer.from('release notes, carried by url:\n');

describe('proxy variables at export', () => {
  let work: string;
  let upstream: TestRegistry;
  let site: TestRegistry;
  let proxy: ConnectProxy;
  let files: Server;
  let filesHost: string;
  let mirror: string;
  let n = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-proxy-'));
    upstream = await startRegistry();
    site = await startRegistry();
    await seedRegistry(upstream, 'small', { kinds: ['image'] });
    proxy = await startConnectProxy();
    files = createServer((_req, res) => res.writeHead(200, { 'content-length': String(FILE.length) }).end(FILE));
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    filesHost = `127.0.0.1:${(files.address() as AddressInfo).port}`;
    mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1',
      'registries:',
      `  ${upstream.host}: { tls: plain-http }`,
      'images:',
      `  - ${upstream.host}/demo/app:1.0`,
      'files:',
      `  - url: http://${filesHost}/notes.txt`,
      `    sha256: ${createHash('sha256').update(FILE).digest('hex')}`,
      '',
    ].join('\n'));
  });
  after(async () => {
    await proxy?.stop();
    await new Promise<void>((resolve) => (files ? files.close(() => resolve()) : resolve()));
    await upstream?.stop();
    await site?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const proxyEnv = (url: string, noProxy = ''): Record<string, string> => ({
    HTTPS_PROXY: url, HTTP_PROXY: url, https_proxy: url, http_proxy: url, NO_PROXY: noProxy, no_proxy: noProxy,
  });
  const exportWith = (env: Record<string, string>) => runCli(['bundle', 'export', '-f', mirror, '-o', join(work, `out-${++n}.tar`), '--no-cache', '--json'], { env });

  it('tunnels every registry and url: connection through the proxy', async () => {
    proxy.tunnels.length = 0;
    const r = await exportWith(proxyEnv(proxy.url));
    assert.equal(r.code, 0, describeResult(r));
    assert.ok(proxy.tunnels.includes(upstream.host), `tunnels: ${proxy.tunnels.join(' ')}`);
    assert.ok(proxy.tunnels.includes(filesHost), `tunnels: ${proxy.tunnels.join(' ')}`);
    assert.deepEqual(proxy.refused, []);
  });

  it('depends on the proxy: a proxy that is down fails the export (NETWORK)', async () => {
    const r = await exportWith(proxyEnv(`http://127.0.0.1:${await freePort()}`));
    assert.equal(r.code, 1, describeResult(r));
    assert.equal(parseJsonOutput<{ error: { code: string } }>(r).error.code, 'NETWORK');
  });

  it('NO_PROXY: hosts named there (with or without a port) are reached directly', async () => {
    for (const noProxy of ['127.0.0.1', `localhost,${upstream.host},${filesHost}`, '*']) {
      proxy.tunnels.length = 0;
      const r = await exportWith(proxyEnv(proxy.url, noProxy));
      assert.equal(r.code, 0, `${noProxy}: ${describeResult(r)}`);
      assert.deepEqual(proxy.tunnels, [], noProxy);
    }
  });

  it('import reaches its target directly, proxy variables or not', async () => {
    const bundle = join(work, 'for-import.tar');
    assert.equal((await runCli(['bundle', 'export', '-f', mirror, '-o', bundle, '--no-cache'])).code, 0);
    proxy.tunnels.length = 0;
    const r = await runCli(['bundle', 'import', bundle, '--to', site.host, '--dest-tls-verify=false', '--insecure-skip-signature',
      '--out-dir', join(work, 'import-out'), '--state-dir', join(work, 'state'), '--json'], { env: proxyEnv(proxy.url) });
    assert.equal(r.code, 0, describeResult(r));
    assert.deepEqual(proxy.tunnels, []);
  });
});
