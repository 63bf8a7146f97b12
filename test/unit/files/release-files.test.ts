import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiError } from '../../../src/errors.js';
import { checkReleaseSet, parseChecksums } from '../../../src/files/index.js';
import { parseMirrorList } from '../../../src/mirror/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const F = '/srv/lists/m.yaml';

describe('parseChecksums', () => {
  it('reads sha256sum text and binary lines, the BSD form, ./ prefixes and escaped names', () => {
    const p = parseChecksums(`${A}  app.zip\n${B} *dir/bin.tar.gz\r\nSHA256 (./notes.md) = ${A.toUpperCase()}\n\\${B}  we\\\\ird\n# comment\n\nnot a line\n`);
    assert.deepEqual(p.lines.map((l) => [l.listed, l.name, l.sha256, l.line]), [
      ['app.zip', 'app.zip', A, 1], ['dir/bin.tar.gz', 'bin.tar.gz', B, 2], ['notes.md', 'notes.md', A, 3], ['we\\ird', 'we\\ird', B, 4],
    ]);
    assert.deepEqual(p.malformed, [7]);
  });
});

describe('checkReleaseSet', () => {
  const sums = `${A}  app.zip\n${B}  manifest.json\n${A}  other.zip\n`;
  it('returns what matched, what it lists that is not carried, and what it does not list', () => {
    const r = checkReleaseSet(sums, 'checksums.txt', [{ name: 'checksums.txt', sha256: B }, { name: 'app.zip', sha256: A }, { name: 'manifest.json', sha256: B }, { name: 'extra.md', sha256: A }], 'x');
    assert.deepEqual(r, { verified: ['app.zip', 'manifest.json'], missing: ['other.zip'], unlisted: ['extra.md'] });
  });
  it('names every file whose sha256 differs (DIGEST_MISMATCH)', () => {
    const err = assertThrowsCode(() => checkReleaseSet(sums, 'checksums.txt', [{ name: 'app.zip', sha256: B }, { name: 'manifest.json', sha256: A }], 'x'), 'DIGEST_MISMATCH');
    assert.ok(err instanceof MultiError);
    assert.deepEqual(err.problems.map((p) => p.where), ['checksums.txt:1', 'checksums.txt:2']);
  });
  it('refuses a checksums file with no sha256 line', () => {
    assertThrowsCode(() => checkReleaseSet('md5 stuff\n', 'checksums.txt', [], 'x'), 'DIGEST_INVALID');
  });
});

describe('mirror list: signed files and checksums', () => {
  it('reads checksums:, signature: + key:, and bundle: + keyless:', () => {
    const l = parseMirrorList([
      'version: 1', 'files:',
      '  - checksums: ./checksums.txt', '    signature: ./checksums.txt.sig', '    key: ./cosign.pub',
      '  - path: ./rm.json', '    bundle: https://example.com/rm.json.sigstore.json',
      '    keyless: { issuer: "https://token.actions.githubusercontent.com", identity: "a@b.c", trustedRoot: ./root.json }',
      '  - checksums: https://example.com/SHA256SUMS', `    sha256: ${A}`, '',
    ].join('\n'), F);
    const [sums, rm, remote] = l.files;
    assert.deepEqual(sums, { kind: 'path', path: '/srv/lists/checksums.txt', name: 'checksums.txt', where: `${F}:3:5`, checksums: true,
      signature: { kind: 'cosign', signature: { kind: 'path', path: '/srv/lists/checksums.txt.sig' }, keyPath: '/srv/lists/cosign.pub', where: `${F}:4:16` } });
    assert.equal(rm?.signature?.kind, 'bundle');
    assert.deepEqual(rm?.signature?.kind === 'bundle' ? [rm.signature.bundle, rm.signature.keyless?.identity, rm.signature.keyless?.trustedRoot] : [],
      [{ kind: 'url', url: 'https://example.com/rm.json.sigstore.json' }, 'a@b.c', '/srv/lists/root.json']);
    assert.equal(remote?.kind, 'url');
    assert.equal(remote?.checksums, true);
  });
  for (const [name, lines] of [
    ['signature without key', ['  - path: ./x', '    signature: ./x.sig']],
    ['key without signature', ['  - path: ./x', '    key: ./k.pub']],
    ['signature and bundle', ['  - path: ./x', '    signature: ./x.sig', '    bundle: ./x.json', '    key: ./k.pub']],
    ['keyless with a cosign signature', ['  - path: ./x', '    signature: ./x.sig', '    keyless: { issuer: "https://i", identity: a, trustedRoot: ./r.json }']],
    ['keyless without trustedRoot', ['  - path: ./x', '    bundle: ./x.json', '    keyless: { issuer: "https://i", identity: a }']],
    ['checksums and path', ['  - checksums: ./c.txt', '    path: ./x']],
  ] as const) {
    it(`refuses ${name} at its position (MIRROR_INVALID)`, () => {
      const err = assertThrowsCode(() => parseMirrorList(['version: 1', 'files:', ...lines, ''].join('\n'), F), 'MIRROR_INVALID');
      assert.ok(err instanceof MultiError && err.problems.every((p) => p.where?.startsWith(`${F}:`)));
    });
  }
});
