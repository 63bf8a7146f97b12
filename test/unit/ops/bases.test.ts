import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadBases } from '../../../src/ops/index.js';
import { travels } from '../../../src/bundle/index.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST } from '../../../src/oci/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from '../archive/temp.js';
import { APP1, APP2, d, fakeManifest, fakeReceipt, writeJson } from './fixture.js';

describe('travels (the delta rule)', () => {
  it('always carries manifests and indexes; configs and layers only when no base holds them', () => {
    const table: [string, boolean, boolean][] = [
      [MEDIA_TYPE_OCI_MANIFEST, true, true],
      [MEDIA_TYPE_OCI_INDEX, true, true],
      [MEDIA_TYPE_OCI_CONFIG, true, false],
      [MEDIA_TYPE_OCI_CONFIG, false, true],
      [MEDIA_TYPE_OCI_LAYER_GZIP, true, false],
      [MEDIA_TYPE_OCI_LAYER_GZIP, false, true],
    ];
    for (const [mt, held, expected] of table) assert.equal(travels(mt, held), expected, `${mt} held=${held}`);
  });
});

describe('loadBases', () => {
  it('reads a bare airlock.json: every blob it lists counts as held, including those it left to its own bases', async (t) => {
    const dir = await tempDir(t);
    const full = await writeJson(dir, 'full.json', fakeManifest([APP1]));
    const delta = await writeJson(dir, 'delta.json', fakeManifest([APP2], { bases: [{ id: full.id, kind: 'bundle' }], baseHeld: new Set(['base-os', 'runtime']) }));
    const set = await loadBases([delta.path], { receiptKeys: [] });
    assert.deepEqual(set.ids, [delta.id]);
    assert.deepEqual(set.records, [{ id: delta.id, kind: 'bundle', created: '2026-01-01T00:00:00.000Z' }]);
    // base-os reached the site with `full`; the delta on the delta still leaves it out.
    assert.deepEqual(set.holders(d('base-os')), [delta.id]);
    assert.deepEqual(set.holders(d('code-2')), [delta.id]);
    assert.deepEqual(set.holders(d('code-1')), []);
  });

  it('reads a receipt: its digests list is what the site holds', async (t) => {
    const dir = await tempDir(t);
    const r = await writeJson(dir, 'receipt.json', fakeReceipt(d('bundle'), [d('app1-m'), d('base-os')]));
    const set = await loadBases([r.path], { receiptKeys: [] });
    assert.deepEqual(set.records.map((x) => x.kind), ['receipt']);
    assert.deepEqual(set.holders(d('base-os')), [r.id]);
    assert.deepEqual(set.holders(d('runtime')), []);
  });

  it('unions several bases, naming every holder', async (t) => {
    const dir = await tempDir(t);
    const a = await writeJson(dir, 'a.json', fakeManifest([APP1]));
    const b = await writeJson(dir, 'receipt.json', fakeReceipt(d('bundle'), [d('base-os'), d('api')]));
    const set = await loadBases([a.path, b.path], { receiptKeys: [] });
    assert.deepEqual(set.holders(d('base-os')), [a.id, b.id]);
    assert.deepEqual(set.holders(d('api')), [b.id]);
    assert.deepEqual(set.sources.map((s) => s.path), [a.path, b.path]);
  });

  it('refuses the same base twice, a missing path, and JSON that is neither', async (t) => {
    const dir = await tempDir(t);
    const a = await writeJson(dir, 'a.json', fakeManifest([APP1]));
    await assertRejectsCode(loadBases([a.path, a.path], { receiptKeys: [] }), 'USAGE');
    await assertRejectsCode(loadBases([join(dir, 'nope.json')], { receiptKeys: [] }), 'USAGE');
    const junk = await writeJson(dir, 'junk.json', { hello: 'world' });
    await assertRejectsCode(loadBases([junk.path], { receiptKeys: [] }), 'BUNDLE_UNREADABLE');
  });
});
