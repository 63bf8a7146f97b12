import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRange, referrersFallbackTag } from '../../../src/serve/index.js';
import { isLoopback, parseListen } from '../../../src/serve/index.js';
import type { Digest } from '../../../src/oci/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

describe('serve', () => {
  describe('parseRange', () => {
    const cases: [string | undefined, number, ReturnType<typeof parseRange>][] = [
      [undefined, 10, undefined],
      ['bytes=0-4', 10, { start: 0, end: 4 }],
      ['bytes=5-', 10, { start: 5, end: 9 }],
      ['bytes=-3', 10, { start: 7, end: 9 }],
      ['bytes=-30', 10, { start: 0, end: 9 }],
      ['bytes=8-100', 10, { start: 8, end: 9 }],
      ['bytes=10-', 10, 'unsatisfiable'],
      ['bytes=5-2', 10, 'unsatisfiable'],
      ['bytes=-0', 10, 'unsatisfiable'],
      ['bytes=0-1,4-5', 10, undefined],
      ['items=0-1', 10, undefined],
      ['bytes=-', 10, undefined],
    ];
    for (const [header, size, want] of cases) {
      it(`${header ?? '(none)'} of ${size} bytes → ${JSON.stringify(want)}`, () => assert.deepEqual(parseRange(header, size), want));
    }
  });

  describe('parseListen', () => {
    it('takes HOST:PORT, [v6]:PORT and a bare port (loopback)', () => {
      assert.deepEqual(parseListen('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
      assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
      assert.deepEqual(parseListen('5001'), { host: '127.0.0.1', port: 5001 });
      assert.deepEqual(parseListen('localhost:80'), { host: 'localhost', port: 80 });
    });
    it('refuses what is not an address', () => {
      for (const bad of ['', 'host', ':5000', '1.2.3.4:99999', '[::1]', 'a:b']) assertThrowsCode(() => parseListen(bad), 'USAGE');
    });
    it('knows loopback', () => {
      assert.ok(isLoopback('127.0.0.1') && isLoopback('127.3.2.1') && isLoopback('::1') && isLoopback('localhost'));
      assert.ok(!isLoopback('0.0.0.0') && !isLoopback('10.0.0.1') && !isLoopback('::'));
    });
  });

  it('names the referrers fallback tag as the tag schema does', () => {
    assert.equal(referrersFallbackTag(`sha256:${'ab'.repeat(32)}` as Digest), `sha256-${'ab'.repeat(32)}`);
  });
});
