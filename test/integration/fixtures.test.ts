import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFile, readdir, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  blobPath, createSigningKeyFromScalar, generateFixtures, listTar, type FixtureImage,
} from '../../fixtures/generate/index.js';
import {
  ANNOTATION_COSIGN_SIGNATURE, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_HELM_CHART, MEDIA_TYPE_HELM_CONFIG,
  MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_SPDX_JSON, type Digest,
} from '../../src/oci/index.js';
import { loadFixtures, seedRegistry, type LoadedFixtures, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { randomImage } from '../../fixtures/harness/images.js';
import { endpointOf, fetchBlob } from '../../fixtures/harness/oci-http.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoCopy, skopeoInspectRaw, skopeoListTags } from '../../fixtures/harness/skopeo.js';

// The judge parses JSON itself, with its own narrow types: it must not share the parser under test.
interface RawDescriptor { mediaType: string; digest: Digest; size: number; artifactType?: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }
interface RawManifest { mediaType?: string; artifactType?: string; config: RawDescriptor; layers: RawDescriptor[]; manifests: RawDescriptor[]; subject?: RawDescriptor }
interface RawConfig { rootfs: { diff_ids: string[] } }

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function layoutBlob(f: LoadedFixtures, digest: Digest): Promise<Buffer> {
  const bytes = await readFile(blobPath(f.layoutDir, digest));
  assert.equal(sha256(bytes), digest, `layout blob ${digest} does not hash to its name`);
  return bytes;
}

async function layoutJson<T>(f: LoadedFixtures, digest: Digest): Promise<T> {
  return JSON.parse((await layoutBlob(f, digest)).toString('utf8')) as T;
}

/** Every file under `dir` with its sha256, for comparing two generations byte for byte. */
async function treeDigests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    out.set(path.slice(dir.length), sha256(await readFile(path)));
  }
  return out;
}

describe('fixture generator', () => {
  let fx: LoadedFixtures;
  before(async () => {
    fx = await loadFixtures('small');
  });

  it('gives byte-identical layouts and descriptions for the same seed, and different digests for another', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'airlock-fixtures-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const a = await generateFixtures({ profile: 'small', seed: 7, out: join(root, 'a') });
    const b = await generateFixtures({ profile: 'small', seed: 7, out: join(root, 'b') });
    const c = await generateFixtures({ profile: 'small', seed: 8, out: join(root, 'c') });
    // The cosign signature is included: its ECDSA nonce is RFC 6979's, so it is stable too.
    assert.deepEqual(b, a);
    assert.deepEqual(await treeDigests(join(root, 'b')), await treeDigests(join(root, 'a')));
    assert.equal((await readdir(join(root, 'a', 'layout', 'blobs', 'sha256'))).length > 20, true);
    // The chart's bytes do not depend on the seed; everything else does.
    const digests = (d: typeof a): string[] => d.images.filter((i) => i.kind !== 'chart').map((i) => i.digest);
    for (const digest of digests(c)) assert.equal(digests(a).includes(digest), false, `${digest} is in both seeds`);
  });

  it('signs with ECDSA P-256 whose nonce matches RFC 6979 A.2.5 and which node:crypto verifies', () => {
    const key = createSigningKeyFromScalar(Buffer.from('C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721', 'hex'));
    const sig = key.sign(Buffer.from('sample'));
    // RFC 6979 appendix A.2.5, P-256 with SHA-256, message "sample": r and s.
    assert.equal(sig.toString('hex'),
      '3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716' +
      '022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
    assert.equal(verify('sha256', Buffer.from('sample'), key.publicKey, sig), true);
    assert.equal(verify('sha256', Buffer.from('sampler'), key.publicKey, sig), false);
  });

  it('covers the content the issue asks for', () => {
    const kinds = fx.images.map((i) => i.kind);
    for (const k of ['image', 'index', 'chart', 'signature', 'sbom', 'referrers'] as const) assert.ok(kinds.includes(k), `no ${k}`);
    assert.equal(fx.find('demo/legacy', '1.0').mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
    const sizes = fx.images.flatMap((i) => i.blobs.map((b) => b.size));
    assert.ok(sizes.some((s) => s > 1024 * 1024), 'no blob above 1 MiB for split tests');
    assert.ok(fx.description.totalBytes > 1_000_000 && fx.description.totalBytes < 10_000_000, `small is ${fx.description.totalBytes} bytes`);
    assert.deepEqual(fx.description.chartImages, ['demo/app:1.0', 'demo/app-api:1.0', 'demo/worker:1.0']);
  });

  it('writes layers whose diff_ids are the sha256 of the uncompressed tars', async () => {
    let checked = 0;
    const manifests: FixtureImage[] = fx.images.filter((i) => i.kind === 'image');
    const roots: RawManifest[] = await Promise.all(manifests.map((i) => layoutJson<RawManifest>(fx, i.digest)));
    const index = await layoutJson<RawManifest>(fx, fx.find('demo/multi', '1.0').digest);
    for (const child of index.manifests) roots.push(await layoutJson<RawManifest>(fx, child.digest));
    for (const m of roots) {
      const config = await layoutJson<RawConfig>(fx, m.config.digest);
      assert.equal(config.rootfs.diff_ids.length, m.layers.length);
      for (const [i, layer] of m.layers.entries()) {
        const blob = await layoutBlob(fx, layer.digest);
        assert.equal(blob.length, layer.size);
        const tar = gunzipSync(blob);
        assert.equal(sha256(tar), config.rootfs.diff_ids[i]);
        assert.ok(listTar(tar).some((e) => e.type === '0'), 'layer tar has no regular file');
        checked++;
      }
    }
    assert.ok(checked >= 20, `checked ${checked} layers`);
  });

  it('makes app 2.0 differ from 1.0 only in the layers above the shared base', async () => {
    const v1 = await layoutJson<RawManifest>(fx, fx.find('demo/app', '1.0').digest);
    const v2 = await layoutJson<RawManifest>(fx, fx.find('demo/app', '2.0').digest);
    const d1 = v1.layers.map((l) => l.digest);
    const d2 = v2.layers.map((l) => l.digest);
    assert.deepEqual(d2.slice(0, 3), d1.slice(0, 3));
    assert.ok(d2.slice(3).every((d) => !d1.includes(d)));
    const api = await layoutJson<RawManifest>(fx, fx.find('demo/app-api', '1.0').digest);
    assert.deepEqual(api.layers.slice(0, 2).map((l) => l.digest), d1.slice(0, 2), 'app-api shares the base layers');
  });

  it('makes a Helm chart with a valid chart tgz', async () => {
    const chart = fx.find('charts/demo', '0.1.0');
    const m = await layoutJson<RawManifest>(fx, chart.digest);
    assert.equal(m.config.mediaType, MEDIA_TYPE_HELM_CONFIG);
    assert.equal((await layoutJson<{ name: string; version: string }>(fx, m.config.digest)).version, '0.1.0');
    const [layer] = m.layers;
    assert.equal(layer?.mediaType, MEDIA_TYPE_HELM_CHART);
    const files = listTar(gunzipSync(await layoutBlob(fx, layer!.digest)));
    const text = (path: string): string => files.find((f) => f.path === path)?.data.toString('utf8') ?? assert.fail(`no ${path}`);
    assert.match(text('demo/Chart.yaml'), /^apiVersion: v2\nname: demo\n[\s\S]*version: 0\.1\.0\n/);
    const values = text('demo/values.yaml') + text('demo/templates/deployment.yaml');
    for (const ref of fx.description.chartImages) {
      const [repo] = ref.split(':');
      assert.ok(values.includes(`repository: ${repo}\n`) || values.includes(`/${ref}"`), `${ref} is not in the chart`);
    }
  });

  it('randomImage writes a layout skopeo can read, deterministic by seed', async (t) => {
    const a = await randomImage({ layers: 2, size: 5000, platforms: ['linux/amd64', 'linux/arm64'], seed: 42 });
    const b = await randomImage({ layers: 2, size: 5000, platforms: ['linux/amd64', 'linux/arm64'], seed: 42 });
    const c = await randomImage({ seed: 43 });
    t.after(() => Promise.all([a.remove(), b.remove(), c.remove()]));
    assert.equal(a.mediaType, MEDIA_TYPE_OCI_INDEX);
    assert.equal(a.digest, b.digest);
    assert.equal(a.blobs.length, 2 * (1 + 1 + 2));
    assert.equal(sha256(await skopeoInspectRaw(a.ociRef)), a.digest);
    assert.equal(sha256(await skopeoInspectRaw(c.ociRef)), c.digest);
  });
});

describe('seedRegistry', () => {
  let reg: TestRegistry;
  let seeded: SeedResult;
  before(async () => {
    reg = await startRegistry();
    seeded = await seedRegistry(reg, 'small');
  });
  after(() => reg?.stop());

  it('pushes every root with its digest intact, as skopeo reads it back', async () => {
    assert.equal(seeded.images.length, seeded.fixtures.images.length);
    for (const image of seeded.images) {
      const raw = await skopeoInspectRaw(`docker://${image.ref}`, reg);
      assert.equal(sha256(raw), image.digest, image.ref);
      const doc = JSON.parse(raw.toString('utf8')) as RawManifest;
      assert.equal(doc.mediaType, image.mediaType, image.ref);
    }
    assert.ok((await skopeoListTags(`docker://${reg.host}/demo/app`, reg)).includes('2.0'));
  });

  it('serves a multi-arch index listing linux/amd64 and linux/arm64', async () => {
    const multi = seeded.find('demo/multi', '1.0');
    const index = JSON.parse((await skopeoInspectRaw(`docker://${multi.ref}`, reg)).toString('utf8')) as RawManifest;
    assert.deepEqual(index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);
    for (const m of index.manifests) {
      const raw = await skopeoInspectRaw(`docker://${reg.host}/${multi.repository}@${m.digest}`, reg);
      assert.equal(sha256(raw), m.digest);
    }
  });

  it('serves a cosign signature that verifies with the test key over the payload', async () => {
    const app = seeded.find('demo/app', '1.0');
    const sig = seeded.find('demo/app', 'signature');
    assert.equal(sig.tag, `sha256-${app.digest.slice(7)}.sig`);
    const m = JSON.parse((await skopeoInspectRaw(`docker://${sig.ref}`, reg)).toString('utf8')) as RawManifest;
    const [layer] = m.layers;
    assert.ok(layer);
    const payload = await fetchBlob(endpointOf(reg), sig.repository, layer.digest);
    assert.equal(sha256(payload), layer.digest);
    const signature = Buffer.from(layer.annotations?.[ANNOTATION_COSIGN_SIGNATURE] ?? '', 'base64');
    const publicKey = createPublicKey(await readFile(seeded.fixtures.publicKeyPath));
    assert.equal(publicKey.asymmetricKeyType, 'ec');
    assert.equal(verify('sha256', payload, publicKey, signature), true);
    const doc = JSON.parse(payload.toString('utf8')) as { critical: { image: { 'docker-manifest-digest': string }; type: string } };
    assert.equal(doc.critical.image['docker-manifest-digest'], app.digest);
    assert.equal(doc.critical.type, 'cosign container image signature');
  });

  it('serves the SBOM referrer and the referrers fallback tag listing it', async () => {
    const app = seeded.find('demo/app', '1.0');
    const sbom = seeded.find('demo/app', 'sbom');
    const manifest = JSON.parse((await skopeoInspectRaw(`docker://${sbom.ref}`, reg)).toString('utf8')) as RawManifest;
    assert.equal(manifest.artifactType, MEDIA_TYPE_SPDX_JSON);
    assert.equal(manifest.subject?.digest, app.digest);
    const fallback = await skopeoInspectRaw(`docker://${reg.host}/demo/app:sha256-${app.digest.slice(7)}`, reg);
    const index = JSON.parse(fallback.toString('utf8')) as RawManifest;
    assert.equal(index.mediaType, MEDIA_TYPE_OCI_INDEX);
    assert.deepEqual(index.manifests.map((d) => [d.digest, d.artifactType]), [[sbom.digest, MEDIA_TYPE_SPDX_JSON]]);
    const spdx = JSON.parse((await fetchBlob(endpointOf(reg), 'demo/app', manifest.layers[0]!.digest)).toString('utf8')) as { spdxVersion: string };
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
  });

  it('seeds a TLS registry with basic auth too, under a repository prefix, and re-seeding is harmless', async (t) => {
    const secure = await startRegistry({ tls: true, auth: 'htpasswd' });
    t.after(() => secure.stop());
    const first = await seedRegistry(secure, 'small', { prefix: 'upstream/', kinds: ['image', 'sbom'] });
    const again = await seedRegistry(secure, 'small', { prefix: 'upstream/', kinds: ['image', 'sbom'] });
    assert.deepEqual(again.images.map((i) => i.ref), first.images.map((i) => i.ref));
    for (const image of first.images) {
      assert.ok(image.ref.startsWith(`${secure.host}/upstream/demo/`));
      assert.equal(sha256(await skopeoInspectRaw(`docker://${image.ref}`, secure)), image.digest, image.ref);
    }
    assert.ok(first.images.some((i) => i.kind === 'referrers'));
    // skopeo itself can read the Docker image the harness pushed over HTTP.
    const dir = await mkdtemp(join(tmpdir(), 'airlock-legacy-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await skopeoCopy(`docker://${first.find('demo/legacy', '1.0').ref}`, `dir:${dir}`, { src: secure });
  });
});
