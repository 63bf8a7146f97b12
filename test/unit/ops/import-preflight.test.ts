import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proposeMappings } from '../../../src/ops/import-preflight.js';

const sources = [
  { registry: 'docker.io', repository: 'library/nginx' },
  { registry: 'ghcr.io', repository: 'acme/app' },
  { registry: 'quay.io', repository: 'org/tools/cli' },
];

describe('proposeMappings', () => {
  it('flat with a prefix too deep for Quay (2 components): no prefix at all fits only when the sources do', () => {
    const two = sources.slice(0, 2);
    assert.deepEqual(proposeMappings(two, { host: 'quay.intern', prefix: 'mirror' }, 'flat', 2), ['`--to quay.intern`']);
    // A 3-component source never fits in 2: nothing to propose.
    assert.deepEqual(proposeMappings(sources, { host: 'quay.intern', prefix: 'mirror' }, 'flat', 2), []);
  });

  it('scoped under a GitLab project (project path + 2): --layout flat keeps the project path and comes first', () => {
    const p = proposeMappings(sources.slice(0, 2), { host: 'gitlab.intern', prefix: 'group/project' }, 'scoped', 4);
    assert.equal(p[0], '`--layout flat`');
    assert.equal(p[1], '`--to gitlab.intern/group --layout scoped`');
  });

  it('scoped where flat needs a shorter prefix too', () => {
    assert.deepEqual(proposeMappings(sources.slice(0, 2), { host: 'r', prefix: 'a/b' }, 'scoped', 2), ['`--layout flat --to r`']);
  });

  it('leaves out a mapping that would land two sources on one repository', () => {
    const clash = [{ registry: 'docker.io', repository: 'acme/app' }, { registry: 'ghcr.io', repository: 'acme/app' }];
    // Flat would merge them; scoped without the prefix fits.
    assert.deepEqual(proposeMappings(clash, { host: 'r', prefix: 'team' }, 'scoped', 3), ['`--to r --layout scoped`']);
  });
});
