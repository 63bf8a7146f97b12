import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeSiteStatus, prometheusText, type ImportRecord } from '../../../src/deploy/index.js';
import { parseDuration } from '../../../src/util/index.js';
import type { Digest } from '../../../src/oci/index.js';

const rec = (over: Partial<ImportRecord>): ImportRecord => ({
  version: 1, kind: 'airlock-import', result: 'ok', started: '2026-12-01T00:00:00.000Z', finished: '2026-12-01T00:01:00.000Z', target: 'reg:5000', ...over,
});

describe('site status', () => {
  it('parses durations and refuses what is not one', () => {
    assert.equal(parseDuration('36h'), 36 * 3600);
    assert.equal(parseDuration('1d12h'), 36 * 3600);
    assert.equal(parseDuration('90m'), 5400);
    assert.equal(parseDuration('120'), 120);
    for (const bad of ["", "soon", "36hx", "h", "0h"]) {
      assert.throws(() => parseDuration(bad), (e: { code?: string }) => e.code === 'USAGE');
    }
  });

  it('takes the newest success, the newest content and the last failure; stale past --max-age', () => {
    const id = `sha256:${'a'.repeat(64)}` as Digest;
    const records = [
      rec({ bundleId: id, bundleCreated: '2026-11-30T22:00:00.000Z', artifacts: 3, bytesPushed: 100, signer: 'key:abc' }),
      rec({ result: 'error', finished: '2026-12-02T00:00:00.000Z', error: { code: 'NETWORK', message: 'down' } }),
    ];
    const now = new Date('2026-12-02T12:01:00.000Z');
    const s = computeSiteStatus(records, { stateDir: '/s', now, maxAgeSeconds: 36 * 3600 });
    assert.equal(s.lastImport?.bundleId, id);
    assert.equal(s.lastImport?.ageSeconds, 36 * 3600);
    assert.equal(s.stale, false);
    assert.equal(s.lastFailure?.current, true);
    assert.equal(s.newestContent?.created, '2026-11-30T22:00:00.000Z');
    const later = computeSiteStatus(records, { stateDir: '/s', now: new Date(now.getTime() + 1000), maxAgeSeconds: 36 * 3600 });
    assert.equal(later.stale, true);
    const text = prometheusText(later);
    assert.match(text, /^airlock_stale 1$/m);
    assert.match(text, /^airlock_last_import_failed 1$/m);
    assert.match(text, /^airlock_last_import_timestamp_seconds 1796083260$/m);
    assert.equal(computeSiteStatus([], { stateDir: '/s', maxAgeSeconds: 10 }).stale, true);
  });
});
