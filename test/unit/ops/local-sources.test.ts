import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { NOOP_LOGGER } from '../../../src/log.js';
import type { ImageArchiveEntry } from '../../../src/mirror/index.js';
import { ANNOTATION_REF_NAME, MEDIA_TYPE_OCI_MANIFEST, digestOf, hexOf } from '../../../src/oci/index.js';
import { LocalSources } from '../../../src/ops/local-sources.js';
import { formatRepository } from '../../../src/reference/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { makeTar, type Entry } from '../archive/tar-build.js';
import { tempDir } from '../archive/temp.js';

const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function dockerArchive(images: readonly { repoTags: string[] | null; seed: string }[]): Buffer {
  const entries: Entry[] = [];
  const items = images.map((img) => {
    const layer = Buffer.from(`layer ${img.seed}`);
    const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${hex(layer)}`] } }));
    entries.push({ path: `${hex(layer)}.tar`, body: layer }, { path: `${hex(config)}.json`, body: config });
    return { Config: `${hex(config)}.json`, RepoTags: img.repoTags, Layers: [`${hex(layer)}.tar`] };
  });
  entries.push({ path: 'manifest.json', body: Buffer.from(JSON.stringify(items)) });
  return makeTar(entries);
}

function ociArchive(refs: readonly (string | undefined)[]): Buffer {
  const entries: Entry[] = [{ path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }];
  const manifests = refs.map((ref, i) => {
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, n: i }));
    entries.push({ path: `blobs/sha256/${hexOf(digestOf(m))}`, body: m });
    return { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf(m), size: m.length, ...(ref !== undefined ? { annotations: { [ANNOTATION_REF_NAME]: ref } } : {}) };
  });
  entries.push({ path: 'index.json', body: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests })) });
  return makeTar(entries);
}

async function setup(t: TestContext): Promise<{ dir: string; locals: LocalSources; entry: (o: Partial<ImageArchiveEntry> & { path: string }) => ImageArchiveEntry }> {
  const dir = await tempDir(t);
  const locals = new LocalSources({ tempDir: join(dir, 'unpacked'), logger: NOOP_LOGGER });
  t.after(() => locals.close());
  return { dir, locals, entry: (o) => ({ kind: 'archive', source: 'archive', referrers: false, where: 'm.yaml:7:5', ...o }) };
}

const named = (imgs: readonly { ref: { registry: string; repository: string }; tag?: string }[]): string[] =>
  imgs.map((i) => `${formatRepository(i.ref)}${i.tag !== undefined ? `:${i.tag}` : ''}`);

describe('LocalSources', () => {
  it('names docker-archive images by their RepoTags, read as docker load reads them; one root per tag', async (t) => {
    const { dir, locals, entry } = await setup(t);
    await writeFile(join(dir, 'a.tar.gz'), gzipSync(dockerArchive([
      { repoTags: ['ghcr.io/sentari-dev/sentari/server:1.0.0'], seed: 's' },
      { repoTags: ['redis:7.2-alpine', 'redis:7.2'], seed: 'r' },
    ])));
    const imgs = await locals.resolveEntry(entry({ path: join(dir, 'a.tar.gz') }));
    assert.deepEqual(named(imgs), ['ghcr.io/sentari-dev/sentari/server:1.0.0', 'docker.io/library/redis:7.2-alpine', 'docker.io/library/redis:7.2']);
    assert.deepEqual(imgs[1]!.record, { format: 'docker-archive', name: 'a.tar.gz', ref: 'redis:7.2-alpine', manifest: 'airlock' });
    assert.ok(imgs[0]!.rootBytes && digestOf(imgs[0]!.rootBytes) === imgs[0]!.desc.digest);
    assert.equal(locals.source(imgs[0]!.origin.id), imgs[0]!.source);
    assert.equal(imgs[0]!.origin.name, 'archive:a.tar.gz');
    assert.equal(locals.source('ghcr.io/x'), undefined);
    // ref: picks one, written either way; to:/tag: rename it.
    const picked = await locals.resolveEntry(entry({ path: join(dir, 'a.tar.gz'), ref: 'docker.io/library/redis:7.2', to: { registry: 'harbor.local', repository: 'cache/redis' }, tag: 'pinned' }));
    assert.deepEqual(named(picked), ['harbor.local/cache/redis:pinned']);
    assert.equal(picked[0]!.record.ref, 'redis:7.2');
    await locals.close();
    assert.deepEqual(await readdir(join(dir, 'unpacked')), [], 'the uncompressed copy is gone');
  });

  it('removes the uncompressed copy a killed export left, before it makes its own', async (t) => {
    const { dir, locals, entry } = await setup(t);
    await mkdir(join(dir, 'unpacked'), { recursive: true });
    await writeFile(join(dir, 'unpacked', 'unpacked-999999999-left.tar'), 'left by a run killed with -9');
    await writeFile(join(dir, 'a.tar.gz'), gzipSync(dockerArchive([{ repoTags: ['x:1'], seed: 'k' }])));
    await locals.resolveEntry(entry({ path: join(dir, 'a.tar.gz') }));
    const names = await readdir(join(dir, 'unpacked'));
    assert.equal(names.length, 1);
    assert.match(names[0]!, new RegExp(`^unpacked-${process.pid}-`));
  });

  it('names layout images by full ref names, or by to: plus a ref name that is a tag', async (t) => {
    const { dir, locals, entry } = await setup(t);
    await writeFile(join(dir, 'o.tar'), ociArchive(['acme/app:1.0', 'v2', undefined]));
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'o.tar') })), 'MIRROR_INVALID');
    const imgs = await locals.resolveEntry(entry({ path: join(dir, 'o.tar'), to: { registry: 'ghcr.io', repository: 'acme/app' } }));
    assert.deepEqual(named(imgs), ['ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:v2', 'ghcr.io/acme/app']);
    assert.deepEqual(imgs.map((i) => i.record.format), ['oci-archive', 'oci-archive', 'oci-archive']);
    assert.deepEqual(imgs.map((i) => i.record.manifest), ['archive', 'archive', 'archive']);
    const one = await locals.resolveEntry(entry({ path: join(dir, 'o.tar'), ref: 'acme/app:1.0' }));
    assert.deepEqual(named(one), ['docker.io/acme/app:1.0']);
  });

  it('reads an OCI layout directory', async (t) => {
    const { dir, locals, entry } = await setup(t);
    const layout = join(dir, 'layout');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    const m = Buffer.from('{"schemaVersion":2}');
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(layout, 'blobs', 'sha256', hexOf(digestOf(m))), m);
    await writeFile(join(layout, 'index.json'), JSON.stringify({ manifests: [{ mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf(m), size: m.length, annotations: { [ANNOTATION_REF_NAME]: 'v1' } }] }));
    const imgs = await locals.resolveEntry(entry({ source: 'layout', path: layout, ref: 'v1', to: { registry: 'docker.io', repository: 'vendor/app' } }));
    assert.deepEqual(named(imgs), ['docker.io/vendor/app:v1']);
    assert.deepEqual(imgs[0]!.record, { format: 'oci-layout', name: 'layout', ref: 'v1', manifest: 'archive' });
    await assertRejectsCode(locals.resolveEntry(entry({ source: 'layout', path: join(dir, 'nope') })), 'MIRROR_INVALID');
  });

  it('refuses, at the entry, what cannot be named or picked', async (t) => {
    const { dir, locals, entry } = await setup(t);
    await writeFile(join(dir, 'd.tar'), dockerArchive([{ repoTags: null, seed: 'a' }, { repoTags: ['x:1'], seed: 'b' }]));
    const e1 = await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'd.tar') })), 'MIRROR_INVALID');
    assert.equal(e1.where, 'm.yaml:7:5');
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'd.tar'), ref: 'y:1' })), 'MIRROR_INVALID');
    // Two images, one name: refused rather than one silently winning.
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'd.tar'), to: { registry: 'docker.io', repository: 'library/x' }, tag: 'same' })), 'MIRROR_INVALID');
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'missing.tar') })), 'MIRROR_INVALID');
    await writeFile(join(dir, 'empty.tar'), makeTar([{ path: 'readme', body: Buffer.from('x') }]));
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'empty.tar') })), 'MIRROR_INVALID');
    await writeFile(join(dir, 'junk.tar'), Buffer.alloc(4096, 3));
    await assertRejectsCode(locals.resolveEntry(entry({ path: join(dir, 'junk.tar') })), 'MIRROR_INVALID');
  });

  it('checks the archive against the sha256 the list gives (exit 3 when it differs)', async (t) => {
    const { dir, locals, entry } = await setup(t);
    const bytes = dockerArchive([{ repoTags: ['x:1'], seed: 'a' }]);
    await writeFile(join(dir, 'd.tar'), bytes);
    const ok = await locals.resolveEntry(entry({ path: join(dir, 'd.tar'), sha256: hex(bytes) }));
    assert.equal(ok[0]!.record.sha256, hex(bytes));
    const other = new LocalSources({ tempDir: join(dir, 'unpacked'), logger: NOOP_LOGGER });
    await assertRejectsCode(other.resolveEntry(entry({ path: join(dir, 'd.tar'), sha256: 'f'.repeat(64) })), 'DIGEST_MISMATCH');
  });
});
