/**
 * Issue 24: connections are reused, HEADs included. undici closes the connection after every HEAD
 * unless asked not to (`reset: false`), so each existence check against Distribution cost a new
 * TCP connection (and, over TLS, a handshake): 167 requests of one import opened ~115 connections.
 * Judged by a counting TCP proxy in front of a real Distribution registry: it counts the
 * connections it accepts and the request lines that pass through them. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Descriptor } from '../../src/oci/index.js';
import { createRegistryClient } from '../../src/registry/index.js';
import { startRegistry, testImage, type TestRegistry } from '../../fixtures/harness/registry.js';
import { makeSignedBundles, runCli, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';

interface CountingProxy {
  readonly host: string;
  /** TCP connections accepted. */
  connections: number;
  /** HTTP request lines seen from clients (`HEAD /v2/…`, `GET /v2/…`, …). */
  requests: number;
  readonly byMethod: Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n)(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\/\S* HTTP\/1\.1\r\n/g;

/** A plain TCP relay to `upstream` that counts what it accepts; bytes pass through untouched. */
async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const [host, port] = upstream.split(':');
  const sockets = new Set<net.Socket>();
  const byMethod: Record<string, number> = {};
  const state = { connections: 0, requests: 0 };
  const server = net.createServer((client) => {
    state.connections++;
    const up = net.connect(Number(port), host!);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      // Request lines start a request and headers are ASCII; layer bytes never hold `\r\nHEAD /v2/`.
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
        state.requests++;
        byMethod[m[1]!] = (byMethod[m[1]!] ?? 0) + 1;
      }
    });
    client.pipe(up);
    up.pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const listening = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host: listening,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    byMethod,
    reset() {
      state.connections = 0;
      state.requests = 0;
      for (const k of Object.keys(byMethod)) delete byMethod[k];
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  } as CountingProxy;
}

describe('connection reuse against Distribution (HEADs keep their connection)', () => {
  let reg: TestRegistry;
  let proxy: CountingProxy;

  before(async () => {
    reg = await startRegistry();
    proxy = await startCountingProxy(reg.host);
  });

  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('a batch of HEADs (blobs present and missing, manifests by tag) runs over a few connections', async () => {
    const client = createRegistryClient(proxy.host, { tls: 'plain-http' }, { connections: 4 });
    try {
      const repo = client.repository('reuse/app');
      const img = testImage('reuse-heads', { layers: 3, layerSize: 20_000 });
      for (const b of img.all) await repo.push(b.desc as Descriptor, Readable.from([b.data]));
      await repo.tag(img.root.desc as Descriptor, 'v1');
      proxy.reset();
      const missing = (i: number): Descriptor => ({ mediaType: 'application/octet-stream', digest: `sha256:${i.toString(16).padStart(64, '0')}`, size: 1 }) as Descriptor;
      for (let round = 0; round < 3; round++) {
        // One at a time, then four at once (the pool's size), as the import's checks run.
        for (const b of img.all) assert.equal(await repo.exists(b.desc as Descriptor), true);
        for (let i = 0; i < 10; i++) assert.equal(await repo.exists(missing(round * 100 + i)), false);
        assert.equal((await repo.resolve('v1')).digest, img.root.desc.digest);
        await Promise.all(Array.from({ length: 4 }, async (_, i) => assert.equal(await repo.exists(missing(round * 100 + 50 + i)), false)));
      }
    } finally {
      await client.close();
    }
    assert.ok(proxy.requests >= 60, `only ${proxy.requests} requests counted: the test shows nothing`);
    assert.equal(proxy.requests, proxy.byMethod.HEAD, `not all HEADs: ${JSON.stringify(proxy.byMethod)}`);
    // One connection per pool slot at most: undici's default closed one per HEAD (= requests).
    assert.ok(proxy.connections <= 4, `${proxy.connections} connections for ${proxy.requests} HEADs`);
  });
});

describe('a server that sends a body with its HEAD answers (not Distribution: the case undici closes for)', () => {
  it('answers every HEAD right, the stray bytes costing the connection rather than the answer', async () => {
    // Raw HTTP/1.1: every answer carries its JSON body, HEAD or not (as some broken servers do).
    const body = '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}';
    let connections = 0;
    const server = net.createServer((sock) => {
      connections++;
      let buf = '';
      sock.on('error', () => {});
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
          const path = buf.slice(0, i).split(' ')[1];
          buf = buf.slice(i + 4);
          sock.write(path === '/v2/'
            ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}'
            : `HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createRegistryClient(`127.0.0.1:${(server.address() as net.AddressInfo).port}`, { tls: 'plain-http' }, { retryBaseDelayMs: 5 });
    try {
      const repo = client.repository('broken/app');
      for (let i = 0; i < 10; i++) {
        const desc = { mediaType: 'application/octet-stream', digest: `sha256:${String(i).repeat(64)}`, size: 1 } as Descriptor;
        assert.equal(await repo.exists(desc), false);
      }
    } finally {
      await client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.ok(connections >= 2, `${connections} connection(s): the stray bodies were not noticed`);
  });
});

describe('connection reuse during a bundle import and a no-op re-import', () => {
  let bundles: SignedBundles;
  let target: TestRegistry;
  let proxy: CountingProxy;
  let work: string;

  before(async () => {
    bundles = await makeSignedBundles();
    target = await startRegistry();
    proxy = await startCountingProxy(target.host);
    work = await mkdtemp(join(tmpdir(), 'airlock-reuse-'));
  });

  after(async () => {
    await proxy?.stop();
    await target?.stop();
    await bundles?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('imports the small bundle over about as many connections as the pool holds, not one per HEAD', async (t) => {
    const bundle = await bundles.exportTo(join(work, 'small.tar.zst'));
    const importOnce = async (stateDir: string): Promise<{ connections: number; requests: number; heads: number }> => {
      proxy.reset();
      const r = await runCli(['bundle', 'import', bundle, '--to', proxy.host, '--dest-tls-verify=false', '--verify-key', bundles.publicKey,
        '--state-dir', join(work, stateDir), '--out-dir', join(work, `out-${stateDir}`), '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      return { connections: proxy.connections, requests: proxy.requests, heads: proxy.byMethod.HEAD ?? 0 };
    };
    const full = await importOnce('state-1');
    // A fresh state directory: the re-import asks the registry (HEADs) for everything. Its dozen
    // HEADs go out at once, so it opens about as many connections as it has HEADs in flight (up
    // to the pool's 16) either way: shown, not judged.
    const noop = await importOnce('state-2');
    t.diagnostic(`import ${JSON.stringify(full)}; no-op re-import ${JSON.stringify(noop)}`);
    assert.ok(full.heads >= 10, `only ${full.heads} HEADs counted (${full.requests} requests): the test shows nothing`);
    // Before the fix nearly every HEAD had its own connection: 133 connections for 206 requests
    // (77 HEADs) on this bundle; with reuse, about the pool's size (16).
    assert.ok(full.connections * 3 <= full.requests, `${full.connections} connections for ${full.requests} requests (${full.heads} HEADs)`);
    assert.ok(full.connections < full.heads / 2, `${full.connections} connections for ${full.heads} HEADs`);
  });
});
