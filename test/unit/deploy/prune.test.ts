import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prunePlansFromReceipts, type Receipt } from '../../../src/deploy/index.js';
import { d, fakeReceipt } from '../ops/fixture.js';

const artifact = (target: string, digest: string, tag: string | undefined, status: 'pushed' | 'present' | 'waiting' = 'pushed'): Receipt['artifacts'][number] => ({
  kind: 'image', source: `upstream/${digest}`, target, digest: d(digest), status, ...(tag !== undefined ? { tag } : {}),
});

describe('prunePlansFromReceipts (site prune: what each repository keeps and may lose)', () => {
  it('splits each repository\'s roots into kept and older by bundle, collects Airlock\'s tags, and skips other hosts and waiting roots', () => {
    const old = fakeReceipt(d('bundle-old'), [], [
      artifact('registry.site:5000/team/app', 'app-1', '1.0'),
      artifact('registry.site:5000/team/api', 'api-1', 'v1'),
      artifact('other.site/team/app', 'foreign', 'x'),
    ]);
    const recent = fakeReceipt(d('bundle-new'), [], [
      artifact('registry.site:5000/team/app', 'app-2', '2.0'),
      artifact('registry.site:5000/team/app', 'app-3', '3.0', 'waiting'),
    ]);
    const plans = prunePlansFromReceipts([old, recent], 'registry.site:5000', new Set([d('bundle-new')]));
    assert.deepEqual([...plans.keys()], ['team/app', 'team/api']);
    const app = plans.get('team/app')!;
    assert.deepEqual([...app.keptRoots], [d('app-2')]);
    assert.deepEqual([...app.olderRoots], [d('app-1')]);
    assert.deepEqual([...app.airlockTags].sort(), ['1.0', '2.0']);
    const api = plans.get('team/api')!;
    assert.deepEqual([...api.keptRoots], []);
    assert.deepEqual([...api.olderRoots], [d('api-1')]);
  });
});
