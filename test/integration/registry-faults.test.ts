import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { verifyStream } from '../../src/content/index.js';
import type { Descriptor } from '../../src/oci/index.js';
import { createRegistryClient, RegistryError, type RegistryClientOptions, type RegistryHostConfig, type RegistryRepository } from '../../src/registry/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, testImage, type TestContent, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

type T = { after: (fn: () => Promise<unknown> | void) => void };

async function setup(t: T, o: { rules?: FaultRule[]; auth?: 'htpasswd'; client?: RegistryClientOptions } = {}): Promise<{ reg: TestRegistry; proxy: FaultProxy; repo: RegistryRepository }> {
  const reg = await startRegistry(o.auth ? { auth: o.auth } : {});
  t.after(() => reg.stop());
  const basic = reg.username ? `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}` : undefined;
  const proxy = await startFaultProxy({
    upstream: reg.host, rules: o.rules ?? [], ...(basic ? { altAuthorization: basic } : {}),
    ...(reg.username ? { skopeoExtra: (side: 'src' | 'dest') => [`--${side}-creds=${reg.username}:${reg.password}`] } : {}),
  });
  t.after(() => proxy.stop());
  const config: RegistryHostConfig = { tls: 'plain-http', ...(reg.username ? { credentials: { username: reg.username, password: reg.password! } } : {}) };
  // Fast backoff: the tests are about correctness after faults, not about waiting.
  const client = createRegistryClient(proxy.host, config, { retryBaseDelayMs: 10, chunkSize: 64 * 1024, monolithicMax: 128 * 1024, ...o.client });
  t.after(() => client.close());
  return { reg, proxy, repo: client.repository('faults/app') };
}

async function pushAll(repo: RegistryRepository, content: TestContent, tag: string): Promise<void> {
  for (const b of content.all) await repo.push(b.desc as Descriptor, Readable.from([b.data]));
  await repo.tag(content.root.desc as Descriptor, tag);
}

async function fetchVerified(repo: RegistryRepository, desc: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(await repo.fetch(desc), verifyStream(desc), new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}

const BLOB_GET = /\/blobs\/sha256:/;

describe('registry client behind a fault-injecting proxy', () => {
  it('retries 503s and a 429 with Retry-After and ends with the right digests', async (t) => {
    const { proxy, repo } = await setup(t, {
      rules: [
        { method: 'HEAD', path: /\/manifests\//, nth: [1, 2], action: { kind: 'status', status: 503 } },
        { method: 'GET', path: BLOB_GET, nth: [1], action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
        { method: 'PUT', path: /\/manifests\//, nth: [1], action: { kind: 'status', status: 502 } },
      ],
    });
    const img = testImage('faults-503', { layerSize: 10_000 });
    await pushAll(repo, img, 'v1');
    const desc = await repo.resolve('v1');
    assert.equal(desc.digest, img.root.desc.digest);
    for (const b of img.all) assert.ok((await fetchVerified(repo, b.desc as Descriptor)).equals(b.data));
    assert.equal(proxy.counters.faults, 4);
    const retried = proxy.log.filter((l) => l.fault === 'status');
    assert.deepEqual(retried.map((l) => l.status).sort(), [429, 502, 503, 503]);
  });

  it('resumes a blob download cut off by a connection reset, a truncation and a short Content-Length', async (t) => {
    const { proxy, repo } = await setup(t);
    const img = testImage('faults-reset', { layers: 3, layerSize: 512 * 1024 });
    await pushAll(repo, img, 'v1');
    proxy.setRules([
      { method: 'GET', path: new RegExp(img.all[1]!.desc.digest), nth: [1], action: { kind: 'reset-response', afterBytes: 100_000 } },
      { method: 'GET', path: new RegExp(img.all[2]!.desc.digest), nth: [1], action: { kind: 'truncate-response', afterBytes: 200_000 } },
      { method: 'GET', path: new RegExp(img.all[3]!.desc.digest), nth: [1], action: { kind: 'wrong-length', length: 300_000 } },
    ]);
    for (const b of img.all.slice(1, 4)) assert.ok((await fetchVerified(repo, b.desc as Descriptor)).equals(b.data));
    assert.equal(proxy.counters.faults, 3);
    // Every resumed GET continued where the broken one stopped.
    assert.equal(proxy.log.filter((l) => l.method === 'GET' && l.status === 206).length, 3);
  });

  it('restarts a monolithic upload reset mid-body and resends a chunk after a 503 from where the registry stopped', async (t) => {
    const small = testImage('faults-upload-small', { layers: 1, layerSize: 100_000 });
    const big = testImage('faults-upload-big', { layers: 1, layerSize: 400_000 });
    const { proxy, repo } = await setup(t, {
      rules: [
        { method: 'PUT', path: new RegExp(small.all[1]!.desc.digest.slice(7)), nth: [1], action: { kind: 'reset-request', afterBytes: 50_000 } },
        { method: 'PATCH', nth: [2], action: { kind: 'status', status: 503 } },
      ],
    });
    await pushAll(repo, small, 'small');
    await pushAll(repo, big, 'big');
    assert.equal(proxy.counters.faults, 2);
    // The chunk after the 503 went again from the registry's Range, not from the start.
    assert.ok(proxy.log.some((l) => l.method === 'GET' && /blobs\/uploads\//.test(l.path) && l.status === 204));
    assert.equal(proxy.log.filter((l) => l.method === 'POST').length, 5); // small: config, layer twice (restarted); big: config, layer
    for (const [tag, img] of [['small', small], ['big', big]] as const) {
      const raw = await skopeoInspectRaw(`docker://${proxy.host}/faults/app:${tag}`, proxy);
      assert.ok(raw.equals(img.root.data));
      for (const b of img.all) assert.ok((await fetchVerified(repo, b.desc as Descriptor)).equals(b.data));
    }
  });

  it('discards a chunked upload the registry cannot resume after a reset, and a second push completes', async (t) => {
    const { proxy, repo } = await setup(t, { rules: [{ method: 'PATCH', nth: [2], action: { kind: 'reset-request', afterBytes: 30_000 } }] });
    const big = testImage('faults-upload-reset', { layers: 1, layerSize: 400_000 });
    const layer = big.all[1]!;
    const err = await assertRejectsCode(repo.push(layer.desc as Descriptor, Readable.from([layer.data])), 'NETWORK');
    assert.ok(err instanceof RegistryError && err.retryable);
    assert.ok(proxy.log.some((l) => l.method === 'DELETE' && /blobs\/uploads\//.test(l.path)), 'the broken session is cancelled');
    await pushAll(repo, big, 'v1');
    assert.ok((await fetchVerified(repo, layer.desc as Descriptor)).equals(layer.data));
  });

  it('follows a redirect to another host without sending it the Authorization header', async (t) => {
    const { proxy, repo } = await setup(t, { auth: 'htpasswd' });
    const img = testImage('faults-redirect', { layers: 1, layerSize: 50_000 });
    await pushAll(repo, img, 'v1');
    proxy.setRules([{ method: 'GET', path: BLOB_GET, action: { kind: 'redirect-alt' } }]);
    const layer = img.all[1]!;
    assert.ok((await fetchVerified(repo, layer.desc as Descriptor)).equals(layer.data));
    assert.equal(proxy.altRequests.length, 1);
    assert.equal(proxy.altRequests[0]!.headers.authorization, undefined);
    // The registry itself did get credentials on the redirecting request.
    assert.ok(proxy.log.some((l) => l.fault === 'redirect-alt'));
  });

  it('times out a stalled answer and succeeds on the retry', async (t) => {
    const { proxy, repo } = await setup(t, {
      client: { timeoutMs: 300 },
      rules: [{ method: 'HEAD', path: /\/manifests\//, nth: [2], action: { kind: 'stall', ms: 1500 } }],
    });
    const img = testImage('faults-stall', { layers: 1, layerSize: 1000 });
    await pushAll(repo, img, 'v1');
    assert.equal((await repo.resolve('v1')).digest, img.root.desc.digest);
    assert.equal((await repo.resolve('v1')).digest, img.root.desc.digest);
    assert.equal(proxy.counters.faults, 1);
  });

  it('a kept upload session (checkPush keep) is taken by the next blob sent whole, cancelled when none takes it, and a refused one is replaced', async (t) => {
    const { proxy, repo } = await setup(t);
    const img = testImage('faults-kept', { layers: 2, layerSize: 50_000 });
    const sessions = (): { post: number; del: number } => ({
      post: proxy.log.filter((l) => l.method === 'POST' && /blobs\/uploads\//.test(l.path)).length,
      del: proxy.log.filter((l) => l.method === 'DELETE' && /blobs\/uploads\//.test(l.path)).length,
    });
    // Kept, then taken by the first blob sent whole: two blobs, two POSTs (the check's and the second blob's), no DELETE.
    await repo.checkPush({ keep: true });
    await repo.push(img.all[1]!.desc as Descriptor, Readable.from([img.all[1]!.data]));
    await repo.push(img.all[2]!.desc as Descriptor, Readable.from([img.all[2]!.data]));
    await repo.releaseKept();
    assert.deepEqual(sessions(), { post: 2, del: 0 });
    // A second check while one is kept cancels its own; the kept one is cancelled by releaseKept.
    await repo.checkPush({ keep: true });
    await repo.checkPush({ keep: true });
    assert.deepEqual(sessions(), { post: 4, del: 1 });
    await repo.releaseKept();
    await repo.releaseKept();
    assert.deepEqual(sessions(), { post: 4, del: 2 });
    // Without keep (registry probe): cancelled at once, as before.
    await repo.checkPush();
    assert.deepEqual(sessions(), { post: 5, del: 3 });
    // The registry refuses the PUT on the kept session (expired, say): the blob goes on a fresh one.
    await repo.checkPush({ keep: true });
    proxy.setRules([{ method: 'PUT', path: new RegExp(img.all[0]!.desc.digest.slice(7)), nth: [1], action: { kind: 'status', status: 404, body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}' } }]);
    await repo.push(img.all[0]!.desc as Descriptor, Readable.from([img.all[0]!.data]));
    assert.equal(proxy.counters.faults, 1);
    assert.deepEqual(sessions(), { post: 7, del: 3 });
    await pushAll(repo, img, 'v1');
    for (const b of img.all) assert.ok((await fetchVerified(repo, b.desc as Descriptor)).equals(b.data));
  });

  it('gives up after the retries with a retryable REGISTRY error naming the registry', async (t) => {
    const { proxy, repo } = await setup(t, {
      client: { retries: 2 },
      rules: [{ method: 'HEAD', action: { kind: 'status', status: 503 } }, { method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 503 } }],
    });
    const err = await assertRejectsCode(repo.resolve('v1'), 'REGISTRY');
    assert.ok(err instanceof RegistryError);
    assert.equal(err.status, 503);
    assert.equal(err.retryable, true);
    assert.ok(err.message.includes(proxy.host));
    assert.equal(proxy.counters.requests, 3); // the first try and two retries
  });

  it('stops at once when the AbortSignal fires', async (t) => {
    const { repo } = await setup(t, { rules: [{ method: 'GET', action: { kind: 'stall', ms: 5000 } }] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assertRejectsCode(repo.fetchManifest('v1', { signal: ac.signal }), 'ABORTED');
  });

  it('reports a schema 1 manifest and an oversized manifest clearly', async (t) => {
    const { proxy, repo } = await setup(t);
    proxy.setRules([
      { method: 'GET', path: /manifests\/old$/, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, body: '{"schemaVersion":1,"name":"x","tag":"old","fsLayers":[]}' } },
      { method: 'GET', path: /manifests\/huge$/, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: ' '.repeat(4 * 1024 * 1024 + 1) } },
    ]);
    await assertRejectsCode(repo.fetchManifest('old'), 'MANIFEST_INVALID');
    await assertRejectsCode(repo.fetchManifest('huge'), 'MANIFEST_INVALID');
  });
});
