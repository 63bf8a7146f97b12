import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { MultiError, type ErrorCode } from '../../../src/errors.js';
import { parseMirrorList, type ImageEntry, type MirrorList } from '../../../src/mirror/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const F = '/srv/lists/m.yaml';
const D = `sha256:${'a'.repeat(64)}`;
const HEX = 'b'.repeat(64);

const parse = (text: string): MirrorList => parseMirrorList(text, F);
const only = <T>(xs: readonly T[]): T => {
  assert.equal(xs.length, 1, `expected one entry, got ${xs.length}`);
  return xs[0]!;
};

describe('parseMirrorList', () => {
  describe('accepts every form of the contract', () => {
    const good: { name: string; yaml: string; check: (l: MirrorList) => void }[] = [
      {
        name: 'a minimal list',
        yaml: 'version: 1\n',
        check: (l) => {
          assert.deepEqual(l.defaults, { referrers: true });
          assert.equal(l.images.length + l.charts.length + l.files.length + l.registries.size, 0);
          assert.deepEqual(l.sources, [F]);
        },
      },
      {
        name: 'empty sections (null values)',
        yaml: 'version: 1\nimages:\ncharts: ~\nfiles: []\nregistries:\ndefaults:\n',
        check: (l) => assert.equal(l.images.length + l.charts.length + l.files.length, 0),
      },
      {
        name: 'defaults: platforms and referrers, applied to the entries',
        yaml: 'version: 1\ndefaults:\n  platforms: [linux/amd64, linux/arm/v7, linux/amd64]\n  referrers: false\nimages:\n  - nginx:1.27\n  - ref: redis:7\n    platforms: [linux/arm64]\n    referrers: true\n',
        check: (l) => {
          assert.deepEqual(l.defaults, {
            platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
            referrers: false,
          });
          const [a, b] = l.images;
          assert.deepEqual(a?.platforms, l.defaults.platforms);
          assert.equal(a?.referrers, false);
          assert.deepEqual(b?.platforms, [{ os: 'linux', architecture: 'arm64' }]);
          assert.equal(b?.referrers, true);
        },
      },
      {
        name: 'the short form, normalised',
        yaml: 'version: 1\nimages:\n  - docker.io/library/nginx:1.27\n',
        check: (l) => {
          assert.deepEqual(only(l.images), {
            kind: 'ref', ref: { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' },
            floating: false, referrers: true, where: `${F}:3:5`,
          });
        },
      },
      {
        name: 'a bare reference becomes latest and floating',
        yaml: 'version: 1\nimages:\n  - redis\n  - ref: ghcr.io/org/app:latest\n',
        check: (l) => {
          const [a, b] = l.images as ImageEntry[];
          assert.equal(a?.kind === 'ref' && a.ref.tag, 'latest');
          assert.equal(a?.kind === 'ref' && a.floating, true);
          assert.equal(b?.kind === 'ref' && b.floating, true);
        },
      },
      {
        name: 'a digest-pinned ref, with and without a tag',
        yaml: `version: 1\nimages:\n  - ref: ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}\n  - ghcr.io/x/y:1.0@${D}\n  - ghcr.io/x/y:latest@${D}\n`,
        check: (l) => {
          const [a, b, c] = l.images;
          assert.deepEqual(a?.kind === 'ref' && a.ref, { registry: 'ghcr.io', repository: 'cloudgrid-dev/cloudgrid-bff', digest: D });
          assert.deepEqual(b?.kind === 'ref' && b.ref, { registry: 'ghcr.io', repository: 'x/y', tag: '1.0', digest: D });
          assert.equal(c?.kind === 'ref' && c.floating, false, 'a digest pins even latest');
        },
      },
      {
        name: 'ref with platforms, referrers and a key policy',
        yaml: 'version: 1\nimages:\n  - ref: ghcr.io/sentari-dev/sentari/server:1.0.0\n    platforms: [linux/amd64]\n    referrers: false\n    verify: { key: ./keys/cosign.pub }\n',
        check: (l) => {
          const e = only(l.images);
          assert.deepEqual(e.platforms, [{ os: 'linux', architecture: 'amd64' }]);
          assert.equal(e.referrers, false);
          assert.deepEqual(e.verify, { kind: 'key', keyPath: '/srv/lists/keys/cosign.pub' });
          assert.equal(e.where, `${F}:3:5`);
        },
      },
      {
        name: 'repository with a semver range',
        yaml: 'version: 1\nimages:\n  - repository: quay.io/org/app\n    tags: { semver: ">=1.2.0 <2.0.0" }\n',
        check: (l) => {
          const e = only(l.images);
          assert.equal(e.kind, 'repository');
          assert.deepEqual(e.kind === 'repository' && e.repository, { registry: 'quay.io', repository: 'org/app' });
          assert.deepEqual(e.kind === 'repository' && e.tags, { kind: 'semver', range: '>=1.2.0 <2.0.0' });
        },
      },
      {
        name: 'repository with a regex',
        yaml: 'version: 1\nimages:\n  - repository: quay.io/org/app\n    tags: { regex: "^v1\\\\." }\n',
        check: (l) => {
          const e = only(l.images);
          assert.deepEqual(e.kind === 'repository' && e.tags, { kind: 'regex', pattern: '^v1\\.' });
        },
      },
      {
        name: 'repository with a tag list (numbers taken as written, sorted, deduplicated)',
        yaml: 'version: 1\nimages:\n  - repository: nginx\n    tags: [1.27, "1.26", 1.10, 1.27]\n',
        check: (l) => {
          const e = only(l.images);
          assert.deepEqual(e.kind === 'repository' && e.repository, { registry: 'docker.io', repository: 'library/nginx' });
          assert.deepEqual(e.kind === 'repository' && e.tags, { kind: 'list', tags: ['1.10', '1.26', '1.27'] });
        },
      },
      {
        name: 'keyless verify with identity and trustedRoot; another with identityRegexp',
        yaml: [
          'version: 1', 'images:', '  - ref: a.io/x:1', '    verify:', '      keyless:',
          '        issuer: https://token.actions.githubusercontent.com', '        identity: https://github.com/o/r/.github/workflows/r.yml@refs/tags/v1',
          '        trustedRoot: ../trust/root.json', '  - ref: a.io/y:1',
          '    verify: { keyless: { issuer: https://accounts.google.com, identityRegexp: "^a@b\\\\.com$" } }', '',
        ].join('\n'),
        check: (l) => {
          const [a, b] = l.images;
          assert.deepEqual(a?.verify, {
            kind: 'keyless', issuer: 'https://token.actions.githubusercontent.com',
            identity: 'https://github.com/o/r/.github/workflows/r.yml@refs/tags/v1', trustedRoot: '/srv/trust/root.json',
          });
          assert.deepEqual(b?.verify, { kind: 'keyless', issuer: 'https://accounts.google.com', identityRegexp: '^a@b\\.com$' });
        },
      },
      {
        name: 'registries: normalised keys, each setting, relative paths resolved',
        yaml: 'version: 1\nregistries:\n  Registry.Local:5001: { tls: plain-http }\n  ghcr.io: { certDir: ./certs/ghcr, authfile: /etc/auth.json }\n  index.docker.io: { tls: skip-verify }\n  "[::1]:5000":\n',
        check: (l) => {
          assert.deepEqual([...l.registries.keys()], ['registry.local:5001', 'ghcr.io', 'docker.io', '[::1]:5000']);
          assert.deepEqual(l.registries.get('registry.local:5001'), { tls: 'plain-http', where: `${F}:3:3` });
          assert.deepEqual(l.registries.get('ghcr.io'), { certDir: '/srv/lists/certs/ghcr', authfile: '/etc/auth.json', where: `${F}:4:3` });
          assert.equal(l.registries.get('docker.io')?.tls, 'skip-verify');
          assert.equal(l.registries.get('[::1]:5000')?.tls, undefined, 'an unset tls leaves room for --src-tls-verify');
        },
      },
      {
        name: 'charts: oci with exact version and range, repo with name',
        yaml: 'version: 1\ncharts:\n  - ref: oci://ghcr.io/cloudgrid-dev/charts/cloudgrid\n    version: 1.4.2\n  - ref: oci://ghcr.io/c/charts/g\n    version: ~1.4\n    includeImages: true\n    includeDependencies: true\n  - repo: https://charts.example.com/stable/\n    name: redis\n    version: 18.6.1\n',
        check: (l) => {
          assert.deepEqual(l.charts, [
            { kind: 'oci', ref: { registry: 'ghcr.io', repository: 'cloudgrid-dev/charts/cloudgrid' }, version: '1.4.2', includeImages: false, includeDependencies: false, where: `${F}:3:5` },
            { kind: 'oci', ref: { registry: 'ghcr.io', repository: 'c/charts/g' }, version: '~1.4', includeImages: true, includeDependencies: true, where: `${F}:5:5` },
            { kind: 'repo', repoUrl: 'https://charts.example.com/stable', name: 'redis', version: '18.6.1', includeImages: false, includeDependencies: false, where: `${F}:9:5` },
          ]);
        },
      },
      {
        name: 'files: path (relative and absolute, named) and url (sha256 lowercased, name derived)',
        yaml: `version: 1\nfiles:\n  - path: ./release-manifest.json\n  - path: /opt/notes.txt\n    name: notes-1.0.txt\n  - url: https://example.com/releases/1.0.0/checksums.txt\n    sha256: ${HEX.toUpperCase()}\n`,
        check: (l) => {
          assert.deepEqual(l.files, [
            { kind: 'path', path: '/srv/lists/release-manifest.json', name: 'release-manifest.json', where: `${F}:3:5` },
            { kind: 'path', path: '/opt/notes.txt', name: 'notes-1.0.txt', where: `${F}:4:5` },
            { kind: 'url', url: 'https://example.com/releases/1.0.0/checksums.txt', sha256: HEX, name: 'checksums.txt', where: `${F}:6:5` },
          ]);
        },
      },
      {
        name: 'anchors and aliases',
        yaml: 'version: 1\nimages:\n  - ref: a.io/x:1\n    verify: &policy { key: /k.pub }\n  - ref: a.io/y:1\n    verify: *policy\n',
        check: (l) => assert.deepEqual(l.images[1]?.verify, { kind: 'key', keyPath: '/k.pub' }),
      },
      {
        name: 'a byte order mark and comments',
        yaml: '\uFEFF# mirror\nversion: 1 # the only version\nimages: [nginx:1.27]\n',
        check: (l) => assert.equal(l.images[0]?.where, `${F}:3:10`),
      },
      {
        name: 'duplicates in one file collapse (nginx:1.27 = docker.io/library/nginx:1.27 = index.docker.io/library/nginx:1.27)',
        yaml: 'version: 1\nimages:\n  - docker.io/library/nginx:1.27\n  - nginx:1.27\n  - ref: index.docker.io/library/nginx:1.27\n    platforms: [linux/amd64]\n  - redis\n  - redis:latest\n',
        check: (l) => {
          assert.equal(l.images.length, 2);
          assert.equal(l.images[0]?.where, `${F}:3:5`);
          assert.equal(l.images[0]?.platforms, undefined, 'one entry wants every platform');
        },
      },
    ];
    for (const c of good) {
      it(c.name, () => c.check(parse(c.yaml)));
    }
  });

  describe('reports every problem with its line and column', () => {
    // [name, yaml, [code, "line:col"][] in order]
    const M: ErrorCode = 'MIRROR_INVALID';
    const R: ErrorCode = 'REFERENCE_INVALID';
    const bad: [string, string, [ErrorCode, string][]][] = [
      ['an empty file', '', [[M, '1:1']]],
      ['a file with only comments', '# nothing\n', [[M, '1:1']]],
      ['a list at the top', '- nginx\n', [[M, '1:1']]],
      ['a scalar at the top', 'hello\n', [[M, '1:1']]],
      ['missing version', 'images: [nginx]\n', [[M, '1:1']]],
      ['version 2', 'version: 2\n', [[M, '1:10']]],
      ['version as a string', 'version: "1"\n', [[M, '1:10']]],
      ['an unknown top-level key', 'version: 1\nimage:\n  - nginx\n', [[M, '2:1']]],
      ['unknown key with a suggestion, no "missing tags" twice', 'version: 1\nimages:\n  - repository: quay.io/org/app\n    tgas: [v1]\n', [[M, '4:5']]],
      ['both ref and repository', 'version: 1\nimages:\n  - ref: a.io/x:1\n    repository: a.io/x\n', [[M, '4:5']]],
      ['neither ref nor repository', 'version: 1\nimages:\n  - platforms: [linux/amd64]\n', [[M, '3:5']]],
      ['tags on a ref', 'version: 1\nimages:\n  - ref: a.io/x:1\n    tags: [v1]\n', [[M, '4:5']]],
      ['repository without tags', 'version: 1\nimages:\n  - repository: a.io/x\n', [[M, '3:5']]],
      ['repository with a tag', 'version: 1\nimages:\n  - repository: a.io/x:1\n    tags: [v1]\n', [[M, '3:17']]],
      ['a bad short reference', 'version: 1\nimages:\n  - Nginx:1.27\n', [[R, '3:5']]],
      ['a bad ref value', 'version: 1\nimages:\n  - ref: "ghcr.io/x/y@sha256:abc"\n', [[R, '3:10']]],
      ['a ref that is a list', 'version: 1\nimages:\n  - ref: [a]\n', [[M, '3:10']]],
      ['a ref with no value', 'version: 1\nimages:\n  - ref:\n', [[M, '3:5']]],
      ['a bad platform', 'version: 1\ndefaults:\n  platforms: [linux/amd64, windows]\n', [[M, '3:28']]],
      ['empty platforms', 'version: 1\ndefaults:\n  platforms: []\n', [[M, '3:14']]],
      ['referrers not a boolean', 'version: 1\ndefaults:\n  referrers: yes\n', [[M, '3:14']]],
      ['tags: an unparseable semver range', 'version: 1\nimages:\n  - repository: a.io/x\n    tags: { semver: ">=1.2.0 <<2" }\n', [[M, '4:21']]],
      ['tags: a regex that does not compile', 'version: 1\nimages:\n  - repository: a.io/x\n    tags:\n      regex: "(v1"\n', [[M, '5:14']]],
      ['tags: semver and regex', 'version: 1\nimages:\n  - repository: a.io/x\n    tags: { semver: "^1", regex: "x" }\n', [[M, '4:27']]],
      ['tags: an empty list', 'version: 1\nimages:\n  - repository: a.io/x\n    tags: []\n', [[M, '4:11']]],
      ['tags: an invalid tag', 'version: 1\nimages:\n  - repository: a.io/x\n    tags: [v1, -bad, ok]\n', [[M, '4:16']]],
      ['tags: a string', 'version: 1\nimages:\n  - repository: a.io/x\n    tags: v1\n', [[M, '4:11']]],
      ['verify: key and keyless', 'version: 1\nimages:\n  - ref: a.io/x:1\n    verify: { key: k.pub, keyless: { issuer: https://i } }\n', [[M, '4:27']]],
      ['keyless without identity', 'version: 1\nimages:\n  - ref: a.io/x:1\n    verify: { keyless: { issuer: https://i } }\n', [[M, '4:24']]],
      ['keyless with a non-URL issuer and both identities', 'version: 1\nimages:\n  - ref: a.io/x:1\n    verify:\n      keyless:\n        issuer: github\n        identity: a\n        identityRegexp: b\n', [[M, '6:17'], [M, '8:9']]],
      ['a chart without version', 'version: 1\ncharts:\n  - ref: oci://ghcr.io/c/chart\n', [[M, '3:5']]],
      ['a chart ref that is not oci://', 'version: 1\ncharts:\n  - ref: https://ghcr.io/c/chart\n    version: 1.0.0\n', [[M, '3:10']]],
      ['an oci chart ref with a tag', 'version: 1\ncharts:\n  - ref: oci://ghcr.io/c/chart:1.0.0\n    version: 1.0.0\n', [[M, '3:10']]],
      ['an oci chart ref whose host has no dot or port (helm: a host; Docker: a Hub namespace)', 'version: 1\ncharts:\n  - ref: oci://harbor/charts/app\n    version: 1.0.0\n', [[R, '3:10']]],
      ['a chart repo that is not http(s)', 'version: 1\ncharts:\n  - repo: oci://charts.example.com\n    name: x\n    version: 1.0.0\n', [[M, '3:11']]],
      ['a repo chart without name, a bad version', 'version: 1\ncharts:\n  - repo: https://c.example.com\n    version: latest\n', [[M, '3:5'], [M, '4:14']]],
      ['a url file without sha256', 'version: 1\nfiles:\n  - url: https://example.com/a.txt\n', [[M, '3:5']]],
      ['a url file with a short sha256', 'version: 1\nfiles:\n  - url: https://example.com/a.txt\n    sha256: abc\n', [[M, '4:13']]],
      ['a url file with sha256: prefix', `version: 1\nfiles:\n  - url: https://example.com/a.txt\n    sha256: sha256:${HEX}\n`, [[M, '4:13']]],
      ['a url that is not http(s)', `version: 1\nfiles:\n  - url: file:///etc/passwd\n    sha256: ${HEX}\n`, [[M, '3:10']]],
      ['a url with no file name', `version: 1\nfiles:\n  - url: https://example.com/\n    sha256: ${HEX}\n`, [[M, '3:10']]],
      ['a file name with a slash', 'version: 1\nfiles:\n  - path: a.txt\n    name: ../a.txt\n', [[M, '4:11']]],
      ['sha256 on a path file', `version: 1\nfiles:\n  - path: a.txt\n    sha256: ${HEX}\n`, [[M, '4:5']]],
      ['two files under one name', 'version: 1\nfiles:\n  - path: a/x.txt\n  - path: b/x.txt\n', [[M, '4:5']]],
      ['one url with two sha256', `version: 1\nfiles:\n  - url: https://e.com/x\n    sha256: ${HEX}\n  - url: https://e.com/x\n    sha256: ${'c'.repeat(64)}\n    name: y\n`, [[M, '5:5']]],
      ['two verify policies for one image', 'version: 1\nimages:\n  - ref: a.io/x:1\n    verify: { key: a.pub }\n  - ref: a.io/x:1\n    verify: { key: b.pub }\n', [[M, '5:5']]],
      ['a registry key with a scheme', 'version: 1\nregistries:\n  https://ghcr.io: {}\n', [[M, '3:3']]],
      ['a registry key with a path', 'version: 1\nregistries:\n  ghcr.io/org: {}\n', [[M, '3:3']]],
      ['a registry key with a bad port', 'version: 1\nregistries:\n  ghcr.io:99999: {}\n', [[M, '3:3']]],
      ['tls not one of three', 'version: 1\nregistries:\n  ghcr.io: { tls: insecure, authfile: a.json, certdir: c }\n', [[M, '3:19'], [M, '3:47']]],
      ['one registry twice after normalisation', 'version: 1\nregistries:\n  docker.io: { tls: verify }\n  index.docker.io: { tls: verify }\n', [[M, '4:3']]],
      ['a duplicate key (reported by yaml, validation goes on)', 'version: 1\nversion: 1\nimages: [Nginx]\n', [[M, '2:1'], [R, '3:10']]],
      ['a YAML syntax error (the library\'s position)', 'version: 1\nimages: [nginx\nfiles: []\n', [[M, '3:1']]],
      ['tabs as indentation', 'version: 1\nimages:\n\t- nginx\n', [[M, '3:1']]],
      ['two documents', 'version: 1\n---\nversion: 1\n', [[M, '2:1']]],
      ['an unknown alias', 'version: 1\nimages:\n  - *nope\n', [[M, '3:5']]],
      ['a custom tag', 'version: 1\nimages:\n  - !image nginx\n', [[M, '3:5']]],
      [
        'several mistakes in one file, all reported in order',
        'version: 3\ndefaults:\n  referrer: true\nimages:\n  - Nginx\n  - ref: a.io/x:1\n    platforms: [linux]\ncharts:\n  - ref: oci://a.io/c\nfiles:\n  - url: https://e.com/x\n',
        [[M, '1:10'], [M, '3:3'], [R, '5:5'], [M, '7:17'], [M, '9:5'], [M, '11:5']],
      ],
    ];
    for (const [name, yaml, expected] of bad) {
      it(name, () => {
        const err = assertThrowsCode(() => parse(yaml), 'MIRROR_INVALID');
        assert.ok(err instanceof MultiError);
        const got = err.problems.map((p) => [p.code, p.where?.startsWith(`${F}:`) ? p.where.slice(F.length + 1) : p.where]);
        assert.deepEqual(got, expected, err.problems.map((p) => `${p.where} ${p.message}`).join('\n'));
        for (const p of err.problems) assert.ok(p.hint && p.hint.length > 0, `problem without a hint: ${p.message}`);
        assert.equal(err.where, err.problems[0]?.where);
      });
    }
  });

  it('suggests the nearest key', () => {
    const err = assertThrowsCode(() => parse('version: 1\nimages:\n  - repository: a.io/x\n    tgas: [v1]\n'), 'MIRROR_INVALID') as MultiError;
    assert.match(err.problems[0]?.message ?? '', /`tags`/);
  });

  it('resolves relative paths against the mirror file, not the working directory', () => {
    const l = parseMirrorList('version: 1\nfiles:\n  - path: x.txt\n', 'rel/dir/m.yaml');
    assert.equal(l.files[0]?.kind === 'path' && l.files[0].path, resolve('rel/dir/x.txt'));
  });
});
