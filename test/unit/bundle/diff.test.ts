import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planDiff, type AirlockManifest, type BaseDocument } from '../../../src/bundle/index.js';
import { API1, APP1, APP2, d, fakeManifest, fakeReceipt, sizeOf, type FakeImage } from '../ops/fixture.js';

const bundle = (manifest: AirlockManifest, path = 'x.tar'): BaseDocument & { kind: 'bundle' } =>
  ({ kind: 'bundle', id: d(path), path, raw: Buffer.from('{}'), manifest });

describe('planDiff', () => {
  it('reports artifacts added and removed, blobs added, and the bytes a delta would carry', () => {
    const r = planDiff(bundle(fakeManifest([APP1])), bundle(fakeManifest([APP2, API1])));
    assert.equal(r.version, 1);
    assert.deepEqual(r.artifacts.added.map((a) => a.name), ['r.example/demo/api:1.0', 'r.example/demo/app:2.0']);
    assert.deepEqual(r.artifacts.removed.map((a) => a.name), ['r.example/demo/app:1.0']);
    assert.deepEqual(r.artifacts.changed, []);
    const added = ['app2-m', 'app2-c', 'code-2', 'assets-2', 'api1-m', 'api1-c', 'api'];
    assert.deepEqual(r.blobs.added.map((b) => b.digest).sort(), added.map(d).sort());
    assert.deepEqual(r.blobs.removed.map((b) => b.digest).sort(), ['app1-m', 'app1-c', 'code-1'].map(d).sort());
    assert.equal(r.blobs.common, 2);
    // Nothing of NEW's metadata is in OLD, so the delta is exactly the added blobs.
    assert.equal(r.delta.blobs, added.length);
    assert.equal(r.delta.bytes, r.blobs.bytesAdded);
    assert.equal(r.delta.bytesLeftOut, sizeOf('base-os') + sizeOf('runtime'));
  });

  it('a moved tag is a change; a re-listed manifest still travels but a held config does not', () => {
    const moved: FakeImage = { ...APP1, manifest: 'app1b-m' };
    const r = planDiff(bundle(fakeManifest([APP1])), bundle(fakeManifest([moved])));
    assert.deepEqual(r.artifacts.changed, [{ kind: 'image', name: 'r.example/demo/app:1.0', from: d('app1-m'), to: d('app1b-m') }]);
    assert.equal(r.artifacts.unchanged, 0);
    assert.deepEqual(r.blobs.added.map((b) => b.digest), [d('app1b-m')]);
    assert.equal(r.delta.blobs, 1);
    assert.equal(r.delta.bytes, 500);

    const same = planDiff(bundle(fakeManifest([APP1])), bundle(fakeManifest([APP1])));
    assert.equal(same.artifacts.unchanged, 1);
    assert.deepEqual(same.blobs.added, []);
    // The manifest always travels (the importer plans from it); everything else is left out.
    assert.equal(same.delta.blobs, 1);
    assert.equal(same.delta.bytes, 500);
  });

  it('counts blobs an OLD delta left to its own bases as held (chains)', () => {
    const oldDelta = fakeManifest([APP2], { bases: [{ id: d('full1'), kind: 'bundle' }], baseHeld: new Set(['base-os', 'runtime']) });
    const r = planDiff(bundle(oldDelta), bundle(fakeManifest([APP2, API1])));
    assert.deepEqual(r.blobs.added.map((b) => b.digest).sort(), ['api1-m', 'api1-c', 'api'].map(d).sort());
    assert.equal(r.delta.bytes, 500 + 500 + 1000 + sizeOf('api'));
  });

  it('takes a receipt as OLD: the delta for that site', () => {
    const receipt = fakeReceipt(d('b1'), ['app1-m', 'app1-c', 'base-os', 'runtime', 'code-1'].map(d), [
      { kind: 'image', source: `r.example/demo/app:1.0@${d('app1-m')}`, target: 'site/demo/app', digest: d('app1-m'), status: 'pushed' },
    ]);
    const r = planDiff({ kind: 'receipt', id: d('receipt'), path: 'receipt.json', raw: Buffer.from('{}'), receipt }, bundle(fakeManifest([APP1, APP2])));
    assert.equal(r.old.kind, 'receipt');
    assert.equal(r.artifacts.unchanged, 1);
    assert.deepEqual(r.artifacts.added.map((a) => a.name), ['r.example/demo/app:2.0']);
    assert.equal(r.delta.bytes, 500 + 500 + 1000 + sizeOf('code-2') + sizeOf('assets-2'));
  });

  it('names a receipt\'s artifacts by tag or digest: a registry port, digest-only, tag+digest, a tag the receipt records apart', () => {
    const receipt = fakeReceipt(d('b1'), [], [
      { kind: 'image', source: `127.0.0.1:5000/app:1.0@${d('x1')}`, target: 'site/app', digest: d('x1'), status: 'pushed' },
      { kind: 'image', source: `127.0.0.1:5000/pinned@${d('x2')}`, target: 'site/pinned', digest: d('x2'), status: 'pushed' },
      { kind: 'image', source: `127.0.0.1:5000/given@${d('x3')}`, tag: 'v2', target: 'site/given', digest: d('x3'), status: 'pushed' },
      { kind: 'image', source: `library/redis:7@${d('x4')}`, target: 'site/redis', digest: d('x4'), status: 'pushed' },
    ]);
    const r = planDiff({ kind: 'receipt', id: d('receipt'), path: 'receipt.json', raw: Buffer.from('{}'), receipt }, bundle(fakeManifest([])));
    assert.deepEqual(r.artifacts.removed.map((a) => a.name), [
      '127.0.0.1:5000/app:1.0', '127.0.0.1:5000/given:v2', `127.0.0.1:5000/pinned@${d('x2')}`, 'library/redis:7',
    ]);
  });
});
