import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { verifyStream } from '../../src/content/index.js';
import type { Descriptor } from '../../src/oci/index.js';
import { createRegistryClient, type RegistryClient, type RegistryHostConfig, type RegistryRepository } from '../../src/registry/index.js';
import {
  startRegistry, testArtifact, testHelmChart, testImage, testIndex, writeOciLayout, type StartRegistryOptions, type TestContent, type TestRegistry,
} from '../../fixtures/harness/registry.js';
import { skopeo, skopeoCopy, skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { startTokenServer } from '../../fixtures/harness/token-server.js';

function hostConfig(reg: TestRegistry): RegistryHostConfig {
  return {
    tls: reg.tls ? 'verify' : 'plain-http',
    ...(reg.ca ? { certDir: reg.ca.certDir } : {}),
    ...(reg.username ? { credentials: { username: reg.username, password: reg.password! } } : {}),
  };
}

async function drainVerified(repo: RegistryRepository, desc: Descriptor): Promise<number> {
  let n = 0;
  await pipeline(await repo.fetch(desc), verifyStream(desc), new Writable({ write: (c: Buffer, _e, cb) => { n += c.length; cb(); } }));
  return n;
}

async function pushContent(repo: RegistryRepository, content: TestContent, tag?: string): Promise<void> {
  for (const b of content.all) {
    const desc = b.desc as Descriptor;
    if (!(await repo.exists(desc))) await repo.push(desc, Readable.from([b.data]));
  }
  if (tag) await repo.tag(content.root.desc as Descriptor, tag);
}

const contents = (): { tag: string; content: TestContent }[] => {
  const image = testImage('rt-image', { layers: 2, layerSize: 300 * 1024 });
  return [
    { tag: 'image', content: image },
    { tag: 'multiarch', content: testIndex('rt-index') },
    { tag: 'chart', content: testHelmChart('rt-chart') },
    { tag: 'artifact', content: testArtifact('rt-sbom', image.root) },
  ];
};

async function roundTrip(t: { after: (fn: () => Promise<unknown> | void) => void }, reg: TestRegistry, config: RegistryHostConfig): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-rt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const items = contents();
  await writeOciLayout(dir, items);
  const client: RegistryClient = createRegistryClient(reg.host, config, { chunkSize: 128 * 1024, monolithicMax: 256 * 1024 });
  t.after(() => client.close());
  await client.ping();

  // skopeo seeds; the client pulls the same digests and bytes.
  for (const { tag } of items) await skopeoCopy(`oci:${dir}:${tag}`, `docker://${reg.host}/seeded/app:${tag}`, { dest: reg });
  const seeded = client.repository('seeded/app');
  for (const { tag, content } of items) {
    const desc = await seeded.resolve(tag);
    assert.equal(desc.digest, content.root.desc.digest, `resolve ${tag}`);
    assert.equal(desc.mediaType, content.root.desc.mediaType);
    const { bytes } = await seeded.fetchManifest(tag);
    assert.ok(bytes.equals(content.root.data), `manifest bytes of ${tag}`);
    for (const b of content.all) assert.equal(await drainVerified(seeded, b.desc as Descriptor), b.desc.size);
  }

  // The client pushes; skopeo reads back identical bytes.
  const pushed = client.repository('pushed/app');
  for (const { tag, content } of items) await pushContent(pushed, content, tag);
  for (const { tag, content } of items) {
    const raw = await skopeoInspectRaw(`docker://${reg.host}/pushed/app:${tag}`, reg);
    assert.ok(raw.equals(content.root.data), `skopeo reads back ${tag}`);
    const byDigest = await skopeoInspectRaw(`docker://${reg.host}/pushed/app@${content.root.desc.digest}`, reg);
    assert.ok(byDigest.equals(content.root.data));
  }
  // skopeo pulls every blob of the image and the index, checking their digests.
  const out = await mkdtemp(join(tmpdir(), 'airlock-rt-out-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  await skopeo(['copy', '--all', '--preserve-digests', ...reg.skopeoFlags('src'), `docker://${reg.host}/pushed/app:image`, `oci:${out}:image`]);
  await skopeo(['copy', '--all', '--preserve-digests', ...reg.skopeoFlags('src'), `docker://${reg.host}/pushed/app:multiarch`, `oci:${out}:multiarch`]);
  assert.deepEqual((await pushed.tags()).sort(), ['artifact', 'chart', 'image', 'multiarch', `sha256-${items[0]!.content.root.desc.digest.slice(7)}`].sort());
}

describe('registry client round trip with skopeo as the judge', () => {
  const variants: [string, StartRegistryOptions][] = [
    ['plain HTTP', {}],
    ['htpasswd basic auth', { auth: 'htpasswd' }],
    ['TLS with a custom CA', { tls: true }],
    ['mTLS with basic auth', { mtls: true, auth: 'htpasswd' }],
  ];
  for (const [name, opts] of variants) {
    it(`${name}: pulls what skopeo seeded and pushes what skopeo reads back, byte for byte`, async (t) => {
      const reg = await startRegistry(opts);
      t.after(() => reg.stop());
      await roundTrip(t, reg, hostConfig(reg));
    });
  }

  it('token auth: the same round trip through a bearer token service', async (t) => {
    const tokens = await startTokenServer();
    t.after(() => tokens.stop());
    const reg = await startRegistry({ auth: 'token', token: tokens.registryOptions });
    t.after(() => reg.stop());
    const flags = { ...reg, skopeoFlags: (side: 'src' | 'dest') => [`--${side}-tls-verify=false`, `--${side}-creds=airlock:s3cret-pass`] };
    await roundTrip(t, flags, { tls: 'plain-http', credentials: { username: 'airlock', password: 's3cret-pass' } });
    assert.ok(tokens.issued() > 0);
  });

  it('Docker schema 2 image and manifest list pushed by the client read back identically', async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const client = createRegistryClient(reg.host, hostConfig(reg));
    t.after(() => client.close());
    const repo = client.repository('docker/app');
    const list = testIndex('docker-list', { docker: true });
    await pushContent(repo, list, 'v1');
    const raw = await skopeoInspectRaw(`docker://${reg.host}/docker/app:v1`, reg);
    assert.ok(raw.equals(list.root.data));
    const desc = await repo.resolve('v1');
    assert.equal(desc.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(desc.digest, list.root.desc.digest);
  });
});
