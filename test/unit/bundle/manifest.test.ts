import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundleIdOf, parseAirlockManifest } from '../../../src/bundle/index.js';
import { MultiError } from '../../../src/errors.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function doc(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    created: '2025-01-01T00:00:00Z',
    tool: { name: 'airlock', version: '0.1.0' },
    bases: [],
    artifacts: [{ kind: 'image', source: 'x/y:1', repository: 'x/y', digest: D1, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10 }],
    blobs: [
      { digest: D1, size: 10, mediaType: 'application/vnd.oci.image.manifest.v1+json', location: 'bundle' },
      { digest: D2, size: 100, mediaType: 'application/octet-stream', location: 'bundle', volume: 1 },
    ],
    volumes: { count: 2, maxSize: 1000 },
    ...patch,
  };
}
const raw = (d: unknown): Buffer => Buffer.from(JSON.stringify(d));

describe('parseAirlockManifest', () => {
  it('accepts a valid manifest and keeps its fields', () => {
    const m = parseAirlockManifest(raw(doc()));
    assert.equal(m.blobs.length, 2);
    assert.equal(m.volumes?.count, 2);
  });

  it('gives the bundle id as the sha256 of the exact bytes', () => {
    assert.match(bundleIdOf(raw(doc())), /^sha256:[a-f0-9]{64}$/);
    assert.notEqual(bundleIdOf(raw(doc())), bundleIdOf(Buffer.from(`${JSON.stringify(doc())} `)));
  });

  it('refuses a newer format version with BUNDLE_VERSION', () => {
    const err = assertThrowsCode(() => parseAirlockManifest(raw(doc({ version: 2 }))), 'BUNDLE_VERSION');
    assert.ok(err.hint);
  });

  const bad: [string, unknown][] = [
    ['not JSON', '{'],
    ['an array', []],
    ['version "1"', doc({ version: '1' })],
    ['a missing tool', doc({ tool: undefined })],
    ['a bad blob digest', doc({ blobs: [{ digest: 'sha256:xyz', size: 1, mediaType: 'a', location: 'bundle' }] })],
    ['an unsafe size', doc({ blobs: [{ digest: D1, size: 2 ** 60, mediaType: 'a', location: 'bundle' }] })],
    ['a negative size', doc({ blobs: [{ digest: D1, size: -1, mediaType: 'a', location: 'bundle' }] })],
    ['a duplicate blob', doc({ blobs: [{ digest: D1, size: 1, mediaType: 'a', location: 'bundle' }, { digest: D1, size: 1, mediaType: 'a', location: 'bundle' }] })],
    ['an unknown location', doc({ blobs: [{ digest: D1, size: 1, mediaType: 'a', location: 'elsewhere' }] })],
    ['an artifact whose blob is not listed', doc({ blobs: [{ digest: D2, size: 1, mediaType: 'a', location: 'bundle' }] })],
    ['a volume beyond the count', doc({ blobs: [{ digest: D1, size: 10, mediaType: 'a', location: 'bundle', volume: 3 }] })],
    ['a volume without volumes', doc({ volumes: undefined })],
    ['pieces with a gap', doc({ blobs: [{ digest: D1, size: 10, mediaType: 'a', location: 'bundle', pieces: [
      { volume: 1, offset: 0, size: 4, digest: D2 }, { volume: 2, offset: 5, size: 5, digest: D2 }] }] })],
    ['pieces that do not add up', doc({ blobs: [{ digest: D1, size: 10, mediaType: 'a', location: 'bundle', pieces: [
      { volume: 1, offset: 0, size: 4, digest: D2 }, { volume: 2, offset: 4, size: 5, digest: D2 }] }] })],
    ['a piece with a bad digest', doc({ blobs: [{ digest: D1, size: 10, mediaType: 'a', location: 'bundle', pieces: [
      { volume: 1, offset: 0, size: 10, digest: 'md5:x' }] }] })],
    ['both volume and pieces', doc({ blobs: [{ digest: D1, size: 10, mediaType: 'a', location: 'bundle', volume: 1, pieces: [
      { volume: 1, offset: 0, size: 10, digest: D2 }] }] })],
    ['a file name that escapes', doc({ artifacts: [{ kind: 'file', source: 'f', repository: '', digest: D1, mediaType: 'a', size: 10, fileName: '../x' }] })],
    ['an unknown artifact kind', doc({ artifacts: [{ kind: 'vm', source: 'f', repository: '', digest: D1, mediaType: 'a', size: 10 }] })],
    ['a base with a bad id', doc({ bases: [{ id: 'x', kind: 'bundle' }] })],
  ];
  for (const [what, d] of bad) {
    it(`refuses ${what} with BUNDLE_UNREADABLE`, () => {
      assertThrowsCode(() => parseAirlockManifest(typeof d === 'string' ? Buffer.from(d) : raw(d)), 'BUNDLE_UNREADABLE');
    });
  }

  it('reports every problem in one pass', () => {
    const err = assertThrowsCode(() => parseAirlockManifest(raw(doc({ created: 5, bases: 'no', tool: {} }))), 'BUNDLE_UNREADABLE');
    assert.ok(err instanceof MultiError);
    assert.equal(err.problems.length, 3);
  });

  it('accepts the tool\'s commit and a carried executable (export --include-tool) and keeps them', () => {
    const executable = { file: 'airlock-0.1.0-linux-x64', size: 123, digest: D2, platform: 'linux-x64', version: '0.1.0', commit: 'abc' };
    const m = parseAirlockManifest(raw(doc({ tool: { name: 'airlock', version: '0.1.0', commit: 'abc', executable } })));
    assert.deepEqual(m.tool.executable, executable);
    assert.equal(m.tool.commit, 'abc');
  });

  it('refuses a carried executable whose name leaves the bundle\'s directory, or whose size, digest or platform is not one', () => {
    const good = { file: 'airlock-0.1.0-linux-x64', size: 123, digest: D2, platform: 'linux-x64', version: '0.1.0' };
    for (const bad of [
      { ...good, file: '../airlock' }, { ...good, file: 'bin/airlock' }, { ...good, file: '..' }, { ...good, file: '' }, { ...good, file: 'a\\b' },
      { ...good, size: -1 }, { ...good, size: '123' }, { ...good, digest: 'sha256:xyz' }, { ...good, platform: 7 }, { ...good, version: undefined },
      'airlock', [good],
    ]) {
      const err = assertThrowsCode(() => parseAirlockManifest(raw(doc({ tool: { name: 'airlock', version: '0.1.0', executable: bad } }))), 'BUNDLE_UNREADABLE');
      assert.match(err.message, /\$\.tool\.executable/, JSON.stringify(bad));
    }
  });
});
