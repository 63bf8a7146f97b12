import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectTags, type TagSelector } from '../../../src/mirror/index.js';

const AVAILABLE = [
  'latest', '1.27', '1.27.0', '1.27.3', 'v1.28.0', '1.28.0-rc.1', 'v1.2.3', '1.2.3', '1.10.0', '1.9.9', '2.0.0',
  '2.0.0-beta.2', '1.27.3-alpine', 'stable', 'V1.5.0', 'v1.x', '1.2', '01.2.3', 'sha256-abc.sig',
];

describe('selectTags', () => {
  const cases: [string, TagSelector, string[]][] = [
    ['a list: the listed tags, deduplicated and sorted, even if not available', { kind: 'list', tags: ['b', 'a', 'missing', 'a'] }, ['a', 'b', 'missing']],
    ['semver: v-prefixed tags coerce, version order, prereleases excluded', { kind: 'semver', range: '>=1.2.0 <2.0.0' },
      ['1.2.3', 'v1.2.3', 'V1.5.0', '1.9.9', '1.10.0', '1.27.0', '1.27.3', 'v1.28.0']],
    ['semver: a caret range', { kind: 'semver', range: '^1.27.0' }, ['1.27.0', '1.27.3', 'v1.28.0']],
    ['semver: a range that names a prerelease includes that tuple\'s prereleases', { kind: 'semver', range: '>=1.28.0-rc.0 <2.0.0' }, ['1.28.0-rc.1', 'v1.28.0']],
    ['semver: an exact version', { kind: 'semver', range: '2.0.0' }, ['2.0.0']],
    ['semver: prerelease ranges of 2.0.0', { kind: 'semver', range: '>=2.0.0-alpha' }, ['2.0.0-beta.2', '2.0.0']],
    ['semver: nothing matches', { kind: 'semver', range: '>=3' }, []],
    ['regex: anchored as written', { kind: 'regex', pattern: '^v1\\.' }, ['v1.2.3', 'v1.28.0', 'v1.x']],
    ['regex: unanchored matches anywhere', { kind: 'regex', pattern: 'alpine' }, ['1.27.3-alpine']],
    ['regex: fully anchored', { kind: 'regex', pattern: '^1\\.27(\\.\\d+)?$' }, ['1.27', '1.27.0', '1.27.3']],
  ];
  for (const [name, selector, expected] of cases) {
    it(name, () => assert.deepEqual(selectTags(AVAILABLE, selector), expected));
  }

  it('is deterministic: the input order does not matter and duplicates collapse', () => {
    const shuffled = [...AVAILABLE].reverse().concat(AVAILABLE);
    for (const [, selector] of cases) assert.deepEqual(selectTags(shuffled, selector), selectTags(AVAILABLE, selector));
  });

  it('never coerces partial or suffixed versions', () => {
    assert.deepEqual(selectTags(['1.27', '1.27-alpine', 'alpine-1.27.0', '1.27.0'], { kind: 'semver', range: '1.27.x' }), ['1.27.0']);
  });
});
