import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openTarTree } from '../../../src/archive/index.js';
import { readVerified } from '../../../src/content/index.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED, MEDIA_TYPE_DOCKER_MANIFEST, digestOf, parseManifest,
} from '../../../src/oci/index.js';
import { DockerArchiveSource } from '../../../src/tarball/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { makeTar, type Entry } from '../archive/tar-build.js';
import { tempDir } from '../archive/temp.js';

const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A small uncompressed "layer" (its content need not be a real tar for the archive reader). */
function layer(seed: string): Buffer {
  return Buffer.from(`layer ${seed} `.repeat(50));
}

function config(layers: readonly Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${hex(l)}`) }, ...extra }));
}

interface Img { repoTags: string[] | null; layers: Buffer[]; config?: Buffer; names?: string[] }

/** A docker-archive as skopeo writes it: `<diffid>.tar` layers, `<configdigest>.json`, manifest.json last. */
function dockerArchive(images: readonly Img[], opts: { legacyLinks?: boolean; manifestJson?: unknown } = {}): Buffer {
  const entries: Entry[] = [];
  const seen = new Set<string>();
  const items = images.map((img, n) => {
    const cfg = img.config ?? config(img.layers);
    const layerNames = img.layers.map((l, i) => {
      const real = `${hex(l)}.tar`;
      if (!seen.has(real)) {
        seen.add(real);
        entries.push({ path: real, body: l });
      }
      if (!opts.legacyLinks) return img.names?.[i] ?? real;
      const id = `${n}${i}`.padEnd(64, 'f');
      entries.push({ path: `${id}/layer.tar`, type: 'SymbolicLink', linkpath: `../${real}` });
      return `${id}/layer.tar`;
    });
    const cfgName = `${hex(cfg)}.json`;
    if (!seen.has(cfgName)) {
      seen.add(cfgName);
      entries.push({ path: cfgName, body: cfg });
    }
    return { Config: cfgName, RepoTags: img.repoTags, Layers: layerNames };
  });
  entries.push({ path: 'manifest.json', body: Buffer.from(JSON.stringify(opts.manifestJson ?? items)) });
  return makeTar(entries);
}

async function open(t: import('node:test').TestContext, bytes: Buffer, name = 'x.tar'): Promise<DockerArchiveSource> {
  const dir = await tempDir(t);
  const file = join(dir, name);
  await writeFile(file, bytes);
  const tree = await openTarTree(file, { tempDir: join(dir, 'tmp') });
  t.after(() => tree.close());
  return DockerArchiveSource.open(tree);
}

describe('DockerArchiveSource', () => {
  const a = layer('a');
  const b = layer('b');
  const c = layer('c');

  it('makes a Docker schema 2 manifest per image: config by its digest, layers uncompressed by their diff_ids', async (t) => {
    const src = await open(t, dockerArchive([{ repoTags: ['ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:latest'], layers: [a, b] }]));
    assert.equal(src.images.length, 1);
    const img = src.images[0]!;
    assert.deepEqual(img.repoTags, ['ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:latest']);
    assert.equal(img.desc.mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(img.desc.digest, digestOf(img.bytes));
    const m = parseManifest(img.bytes, img.desc.mediaType);
    assert.equal(m.kind, 'manifest');
    if (m.kind !== 'manifest') return;
    assert.equal(m.config.mediaType, MEDIA_TYPE_DOCKER_CONFIG);
    assert.equal(m.config.digest, `sha256:${hex(config([a, b]))}`);
    assert.deepEqual(m.layers.map((l) => [l.mediaType, l.digest, l.size]), [
      [MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED, `sha256:${hex(a)}`, a.length],
      [MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED, `sha256:${hex(b)}`, b.length],
    ]);
    // Every blob it names is served, and verifies.
    for (const d of [img.desc, m.config, ...m.layers]) {
      assert.ok(await src.exists(d));
      await readVerified(await src.fetch(d), d, 1 << 20, { where: 'test' });
    }
    assert.deepEqual(await src.resolve('ghcr.io/acme/app:latest'), img.desc);
    await assertRejectsCode(src.resolve('other:1'), 'NOT_FOUND');
  });

  it('gives the same digest for the same images however the archive is laid out or compressed (deterministic)', async (t) => {
    const plain = await open(t, dockerArchive([{ repoTags: ['x:1'], layers: [a, b] }]));
    const legacy = await open(t, dockerArchive([{ repoTags: ['x:1'], layers: [a, b] }], { legacyLinks: true }));
    const gz = await open(t, gzipSync(dockerArchive([{ repoTags: ['x:1'], layers: [a, b] }])), 'x.tar.gz');
    const again = await open(t, dockerArchive([{ repoTags: ['other:2'], layers: [a, b] }, { repoTags: ['x:1'], layers: [a, b] }]));
    const d = plain.images[0]!.desc.digest;
    assert.equal(legacy.images[0]!.desc.digest, d);
    assert.equal(gz.images[0]!.desc.digest, d);
    assert.equal(again.images[1]!.desc.digest, d);
    assert.ok(plain.images[0]!.bytes.equals(gz.images[0]!.bytes));
  });

  it('holds several images (docker save of several), sharing layers, some saved by ID', async (t) => {
    const src = await open(t, dockerArchive([
      { repoTags: ['ghcr.io/acme/app:1.0'], layers: [a, b] },
      { repoTags: ['redis:7.2-alpine'], layers: [a, c] },
      { repoTags: null, layers: [c] },
    ], { legacyLinks: true }));
    assert.deepEqual(src.images.map((i) => i.repoTags), [['ghcr.io/acme/app:1.0'], ['redis:7.2-alpine'], []]);
    assert.equal(new Set(src.images.map((i) => i.desc.digest)).size, 3);
    for (const i of src.images) for (const l of i.layers) await readVerified(await src.fetch(l), l, 1 << 20, { where: 'test' });
  });

  it('keeps a gzip-compressed layer compressed, named by the digest of its bytes', async (t) => {
    const gz = gzipSync(a);
    const cfg = config([a]);
    const src = await open(t, makeTar([
      { path: 'l.tar.gz', body: gz }, { path: 'c.json', body: cfg },
      { path: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar.gz'] }])) },
    ]));
    const l = src.images[0]!.layers[0]!;
    assert.deepEqual([l.mediaType, l.digest, l.size], [MEDIA_TYPE_DOCKER_LAYER, `sha256:${hex(gz)}`, gz.length]);
  });

  it('a layer whose bytes are not its diff_id fails DIGEST_MISMATCH as it streams', async (t) => {
    const src = await open(t, dockerArchive([{ repoTags: ['x:1'], layers: [a], config: config([b]) }]));
    const l = src.images[0]!.layers[0]!;
    await assertRejectsCode(async () => readVerified(await src.fetch(l), l, 1 << 20, { where: 'test' }), 'DIGEST_MISMATCH');
  });

  it('refuses archives it cannot make a true manifest for', async (t) => {
    const cfg = config([a]);
    const cases: [string, Buffer, 'MANIFEST_INVALID' | 'DIGEST_MISMATCH'][] = [
      ['manifest.json is not JSON', makeTar([{ path: 'manifest.json', body: Buffer.from('[') }]), 'MANIFEST_INVALID'],
      ['an empty list', makeTar([{ path: 'manifest.json', body: Buffer.from('[]') }]), 'MANIFEST_INVALID'],
      ['a missing layer', dockerArchive([{ repoTags: ['x:1'], layers: [a], names: ['gone.tar'] }]), 'MANIFEST_INVALID'],
      ['fewer layers than diff_ids', dockerArchive([{ repoTags: ['x:1'], layers: [a], config: config([a, b]) }]), 'MANIFEST_INVALID'],
      ['a config without diff_ids', dockerArchive([{ repoTags: ['x:1'], layers: [a], config: Buffer.from('{"os":"linux"}') }]), 'MANIFEST_INVALID'],
      ['foreign layers', dockerArchive([], { manifestJson: [{ Config: 'c.json', RepoTags: ['x:1'], Layers: [], LayerSources: { 'sha256:00': {} } }] }), 'MANIFEST_INVALID'],
      ['a zstd layer', makeTar([
        { path: 'l', body: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]) }, { path: 'c.json', body: cfg },
        { path: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l'] }])) },
      ]), 'MANIFEST_INVALID'],
      ['a config named by another digest', makeTar([
        { path: `${'0'.repeat(64)}.json`, body: cfg }, { path: 'l', body: a },
        { path: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: `${'0'.repeat(64)}.json`, RepoTags: ['x:1'], Layers: ['l'] }])) },
      ]), 'DIGEST_MISMATCH'],
    ];
    for (const [what, bytes, code] of cases) {
      await assertRejectsCode(open(t, bytes), code).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
    }
  });
});
