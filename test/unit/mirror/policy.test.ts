import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiError } from '../../../src/errors.js';
import { globMatch, parsePolicy, type ImportPolicy } from '../../../src/mirror/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const F = '/srv/site/policy.yaml';
const parse = (text: string): ImportPolicy => parsePolicy(Buffer.from(text), F);
/** Every problem's position (line:col) for a bad policy. */
const positions = (text: string): string[] => {
  const err = assertThrowsCode(() => parse(text), 'POLICY_INVALID');
  assert.ok(err instanceof MultiError);
  return err.problems.map((p) => (p.where ?? '').slice(F.length + 1));
};

describe('parsePolicy', () => {
  it('reads every rule kind, with defaults and paths relative to the file', () => {
    const p = parse([
      'version: 1',
      'rules:',
      '  - kind: signature',
      '    sources: ghcr.io/vendor/*',
      '    key: keys/vendor.pub',
      '  - kind: signature',
      '    keyless: { identityRegexp: "@vendor\\\\.com$", issuerRegexp: accounts, trustedRoot: ./root.json }',
      '  - kind: sbom',
      '  - kind: provenance',
      '    sources: [a.io/x, "b.io/**"]',
      '  - kind: registries',
      '    allow: [ghcr.io, "127.0.0.1:5000"]',
      '  - kind: platforms',
      '    allow: [linux/amd64, linux/arm/v7]',
      '',
    ].join('\n'));
    assert.match(p.digest, /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(p.rules.map((r) => r.kind), ['signature', 'signature', 'sbom', 'provenance', 'registries', 'platforms']);
    const [key, keyless, sbom, prov, reg, plat] = p.rules;
    assert.deepEqual(key, { kind: 'signature', where: `${F}:3:5`, index: 0, sources: ['ghcr.io/vendor/*'], key: '/srv/site/keys/vendor.pub' });
    assert.deepEqual(keyless?.kind === 'signature' ? keyless.keyless : undefined, { identityRegexp: '@vendor\\.com$', issuerRegexp: 'accounts', trustedRoot: '/srv/site/root.json' });
    assert.deepEqual(sbom?.kind === 'sbom' ? sbom.sources : undefined, ['**']);
    assert.deepEqual(prov?.kind === 'provenance' ? prov.sources : undefined, ['a.io/x', 'b.io/**']);
    assert.deepEqual(reg?.kind === 'registries' ? reg.allow : undefined, ['ghcr.io', '127.0.0.1:5000']);
    assert.deepEqual(plat?.kind === 'platforms' ? plat.allow : undefined, ['linux/amd64', 'linux/arm/v7']);
  });

  it('reports every problem at its line and column', () => {
    assert.deepEqual(positions([
      'version: 2',                               // 1: unsupported version
      'rules:',
      '  - kind: sbom',
      '    allow: [x]',                           // 4: sbom has no allow
      '  - kind: registries',                     // 5: needs allow
      '  - kind: signature',                      // 6: needs key or keyless
      '  - kind: signature',
      '    keyless: { identity: a }',             // 8: needs an issuer
      '  - kind: platforms',
      '    allow: [linux]',                       // 10: not a platform
      '  - kind: signatur',                       // 11: unknown kind
      '  - kind: signature',
      '    key: k.pub',
      '    keyless: { identity: a, issuer: b }',  // 14: not both
      '  - kind: sbom',
      '    sources: ghcr.io/x:1.0',               // 16: a tag is not a repository
      '',
    ].join('\n')), ['1:10', '4:5', '5:5', '6:5', '8:5', '10:12', '11:11', '14:5', '16:14']);
    assert.deepEqual(positions('version: 1\nrules: []\n'), ['2:8']);
    assert.deepEqual(positions('version: 1\nrules:\n  - kind: sbom\n  - kind: sbom\n    kind: x\n'), ['5:5']);
  });
});

describe('globMatch', () => {
  const table: [string, string, boolean][] = [
    ['ghcr.io/vendor/*', 'ghcr.io/vendor/app', true],
    ['ghcr.io/vendor/*', 'ghcr.io/vendor/app/sub', false],
    ['ghcr.io/vendor/**', 'ghcr.io/vendor/app/sub', true],
    ['ghcr.io/vendor/*', 'ghcr.io/vendorx/app', false],
    ['**', '127.0.0.1:5000/demo/app', true],
    ['127.0.0.1:5000/demo/app', '127.0.0.1:5000/demo/app', true],
    ['ghcr.io/v?ndor/app', 'ghcr.io/vendor/app', true],
    ['*.example.com', 'registry.example.com', true],
    ['*.example.com', 'example.com', false],
    ['ghcr.io', 'ghcr.io.evil.com', false],
    ['ghcr.io/a.b', 'ghcr.io/aXb', false],
  ];
  for (const [glob, subject, want] of table) {
    it(`${glob} ${want ? 'matches' : 'does not match'} ${subject}`, () => assert.equal(globMatch(glob, subject), want));
  }
});
