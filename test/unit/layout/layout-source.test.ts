import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDirTree, openTarTree } from '../../../src/archive/index.js';
import { readVerified } from '../../../src/content/index.js';
import { OciLayoutSource } from '../../../src/layout/index.js';
import { ANNOTATION_CONTAINERD_IMAGE_NAME, ANNOTATION_REF_NAME, MEDIA_TYPE_OCI_MANIFEST, digestOf, hexOf } from '../../../src/oci/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { makeTar, type Entry } from '../archive/tar-build.js';
import { tempDir } from '../archive/temp.js';

const blob = Buffer.from('{"schemaVersion":2}');
const desc = { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf(blob), size: blob.length };

function layoutEntries(index: unknown, extra: Entry[] = []): Entry[] {
  return [
    { path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: 'index.json', body: Buffer.from(JSON.stringify(index)) },
    { path: `blobs/sha256/${hexOf(desc.digest)}`, body: blob },
    ...extra,
  ];
}

async function tarLayout(t: import('node:test').TestContext, entries: Entry[]): Promise<OciLayoutSource> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'x.tar'), makeTar(entries));
  return OciLayoutSource.open(await openTarTree(join(dir, 'x.tar')));
}

describe('OciLayoutSource', () => {
  it('lists index.json entries with their ref names and serves blobs from a tar (oci-archive)', async (t) => {
    const src = await tarLayout(t, layoutEntries({
      schemaVersion: 2,
      manifests: [
        { ...desc, annotations: { [ANNOTATION_REF_NAME]: 'acme/app:1.0' } },
        { ...desc, annotations: { [ANNOTATION_REF_NAME]: '1.0', [ANNOTATION_CONTAINERD_IMAGE_NAME]: 'docker.io/library/redis:1.0' } },
        desc,
      ],
    }));
    assert.deepEqual(src.images.map((i) => [i.refName, i.imageName]), [['acme/app:1.0', undefined], ['1.0', 'docker.io/library/redis:1.0'], [undefined, undefined]]);
    assert.equal((await src.resolve('docker.io/library/redis:1.0')).digest, desc.digest);
    assert.equal((await src.resolve('acme/app:1.0')).digest, desc.digest);
    assert.ok((await readVerified(await src.fetch(desc), desc, 1024, { where: 'test' })).equals(blob));
    assert.ok(await src.exists(desc));
    await assertRejectsCode(src.resolve('nope'), 'NOT_FOUND');
  });

  it('reads the same layout from a directory', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    for (const e of layoutEntries({ schemaVersion: 2, manifests: [{ ...desc, annotations: { [ANNOTATION_REF_NAME]: 'v1' } }] })) {
      if ('body' in e) await writeFile(join(dir, e.path), e.body);
    }
    const src = await OciLayoutSource.open(await openDirTree(dir));
    assert.equal(src.images[0]!.refName, 'v1');
    assert.ok((await readVerified(await src.fetch(desc), desc, 1024, { where: 'test' })).equals(blob));
  });

  it('a blob that is missing or of another size is refused before it is read', async (t) => {
    const src = await tarLayout(t, layoutEntries({ schemaVersion: 2, manifests: [desc] }));
    await assertRejectsCode(src.fetch({ ...desc, size: desc.size + 1 }), 'SIZE_MISMATCH');
    await assertRejectsCode(src.fetch({ ...desc, digest: digestOf('other') }), 'NOT_FOUND');
    assert.equal(await src.exists({ ...desc, size: 1 }), false);
  });

  it('refuses what is not an OCI layout', async (t) => {
    const cases: Entry[][] = [
      [{ path: 'index.json', body: Buffer.from('{"manifests":[]}') }],
      [{ path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"2.0.0"}') }, { path: 'index.json', body: Buffer.from('{"manifests":[]}') }],
      [{ path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { path: 'index.json', body: Buffer.from('{"manifests":{}}') }],
      [{ path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') }, { path: 'index.json', body: Buffer.from('{"manifests":[{"digest":"sha256:x"}]}') }],
    ];
    for (const c of cases) await assertRejectsCode(tarLayout(t, c), 'MANIFEST_INVALID');
  });
});
