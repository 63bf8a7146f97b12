import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { MultiError, type ErrorCode } from '../../../src/errors.js';
import { parseMirrorList, readMirrorLists, type ImageRefEntry, type MirrorList } from '../../../src/mirror/index.js';
import { formatReference } from '../../../src/reference/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';

const F = '/srv/lists/m.yaml';
const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'e'.repeat(64)}`;
const parse = (text: string): MirrorList => parseMirrorList(text, F);

async function dir(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'airlock-mirror-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Problems of a MultiError as [code, "line:col"] pairs, file name dropped. */
function problemsOf(err: unknown, file: string): [ErrorCode, string][] {
  assert.ok(err instanceof MultiError);
  return err.problems.map((p) => [p.code, (p.where ?? '').slice(file.length + 1)]);
}

describe('mirror list: archive and layout entries', () => {
  it('reads archive:, layout:, ref:, to:, tag:, sha256: and platforms', () => {
    const l = parse([
      'version: 1',
      'defaults: { platforms: [linux/amd64] }',
      'images:',
      '  - archive: ./sentari-1.0.0-images.tar.gz',
      `    sha256: ${'A'.repeat(64)}`,
      '  - archive: /abs/one.tar',
      '    ref: ghcr.io/sentari-dev/sentari/server:1.0.0',
      '    to: harbor.local/vendor/server',
      '    tag: v1',
      '  - layout: ./oci-dir',
      '    ref: v1',
      '    to: vendor/app',
      '    platforms: [linux/arm64]',
      '',
    ].join('\n'));
    assert.deepEqual(l.images, [
      { kind: 'archive', source: 'archive', path: '/srv/lists/sentari-1.0.0-images.tar.gz', where: `${F}:4:5`, referrers: false, sha256: 'a'.repeat(64), platforms: [{ os: 'linux', architecture: 'amd64' }] },
      {
        kind: 'archive', source: 'archive', path: '/abs/one.tar', where: `${F}:6:5`, referrers: false, ref: 'ghcr.io/sentari-dev/sentari/server:1.0.0',
        to: { registry: 'harbor.local', repository: 'vendor/server' }, tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64' }],
      },
      // `to:` is read as `docker tag` reads a name: no registry is docker.io.
      { kind: 'archive', source: 'layout', path: '/srv/lists/oci-dir', where: `${F}:10:5`, referrers: false, ref: 'v1', to: { registry: 'docker.io', repository: 'vendor/app' }, platforms: [{ os: 'linux', architecture: 'arm64' }] },
    ]);
  });

  it('collapses an archive listed twice alike, keeps two picks of one archive apart', () => {
    const l = parse('version: 1\nimages:\n  - archive: a.tar\n  - archive: a.tar\n  - archive: a.tar\n    ref: x:1\n');
    assert.equal(l.images.length, 2);
  });

  const M: ErrorCode = 'MIRROR_INVALID';
  const R: ErrorCode = 'REFERENCE_INVALID';
  const bad: [string, string, [ErrorCode, string][]][] = [
    ['archive and layout together', 'version: 1\nimages:\n  - archive: a.tar\n    layout: d\n', [[M, '4:5']]],
    ['an unknown key in an archive entry', 'version: 1\nimages:\n  - archive: a.tar\n    tags: [v1]\n', [[M, '4:5']]],
    ['sha256 on a layout', `version: 1\nimages:\n  - layout: d\n    sha256: ${'a'.repeat(64)}\n`, [[M, '4:5']]],
    ['a short sha256', 'version: 1\nimages:\n  - archive: a.tar\n    sha256: abc\n', [[M, '4:13']]],
    ['to: with a tag', 'version: 1\nimages:\n  - archive: a.tar\n    to: ghcr.io/x/y:1\n', [[M, '4:9']]],
    ['to: not a name', 'version: 1\nimages:\n  - archive: a.tar\n    to: Bad/Name\n', [[R, '4:9']]],
    ['an invalid tag', 'version: 1\nimages:\n  - layout: d\n    tag: -x\n', [[M, '4:10']]],
    ['an empty archive path', 'version: 1\nimages:\n  - archive:\n', [[M, '3:5']]],
  ];
  for (const [name, yaml, expected] of bad) {
    it(`reports ${name} at its line and column`, () => {
      const err = assertThrowsCode(() => parse(yaml), 'MIRROR_INVALID');
      assert.deepEqual(problemsOf(err, F), expected, (err as MultiError).problems.map((p) => `${p.where} ${p.message}`).join('\n'));
    });
  }
});

describe('mirror list: tag: on a digest-only ref', () => {
  it('gives the target tag, kept apart from the reference', () => {
    const l = parse(`version: 1\nimages:\n  - ref: ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}\n    tag: v1.0.0-beta\n  - ref: ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}\n    tag: v1.0.0\n`);
    const [a, b] = l.images as ImageRefEntry[];
    assert.equal(a?.targetTag, 'v1.0.0-beta');
    assert.equal(a?.ref.tag, undefined);
    assert.equal(b?.targetTag, 'v1.0.0', 'two target tags for one digest are two entries');
  });

  for (const [name, yaml, at] of [
    ['a ref with a tag of its own', 'version: 1\nimages:\n  - ref: ghcr.io/x/y:1\n    tag: v1\n', '4:5'],
    ['a ref with tag and digest', `version: 1\nimages:\n  - ref: ghcr.io/x/y:1@${D}\n    tag: v1\n`, '4:5'],
    ['tag: on a repository entry', 'version: 1\nimages:\n  - repository: ghcr.io/x/y\n    tags: [v1]\n    tag: v2\n', '5:5'],
  ] as const) {
    it(`refuses ${name}`, () => {
      const err = assertThrowsCode(() => parse(yaml), 'MIRROR_INVALID');
      assert.deepEqual(problemsOf(err, F), [['MIRROR_INVALID', at]]);
    });
  }
});

describe('mirror list: fromFile release manifests', () => {
  /** Seed 004's shape: service images pinned by digest, with their names. */
  const release = {
    version: '1.0.0-beta',
    images: [
      { name: 'cloudgrid-bff', image: `ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}` },
      { name: 'cloudgrid-otlp-collector', image: `ghcr.io/cloudgrid-dev/cloudgrid-otlp-collector@${E}` },
      { name: 'nats', image: 'docker.io/library/nats:2.10' },
    ],
  };

  it('expands the selector into ref entries; tag: names the digest-only ones', async (t) => {
    const d = await dir(t);
    await writeFile(join(d, 'release-manifest.json'), JSON.stringify(release, null, 2));
    const m = join(d, 'm.yaml');
    await writeFile(m, 'version: 1\nimages:\n  - fromFile: ./release-manifest.json\n    select: "$.images[*].image"\n    tag: v1.0.0-beta\n    referrers: false\n  - ghcr.io/other/x:1\n');
    const l = await readMirrorLists([m]);
    const refs = l.images as ImageRefEntry[];
    assert.deepEqual(refs.map((e) => [formatReference(e.ref), e.targetTag]), [
      [`ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}`, 'v1.0.0-beta'],
      [`ghcr.io/cloudgrid-dev/cloudgrid-otlp-collector@${E}`, 'v1.0.0-beta'],
      ['docker.io/library/nats:2.10', undefined],
      ['ghcr.io/other/x:1', undefined],
    ]);
    assert.deepEqual(refs[0]?.fromFile, { path: join(d, 'release-manifest.json'), selector: '$.images[*].image' });
    assert.equal(refs[0]?.referrers, false);
    assert.equal(refs[0]?.where, `${m}:3:5`);
  });

  it('reads a YAML release manifest too, and collapses what the file repeats', async (t) => {
    const d = await dir(t);
    await writeFile(join(d, 'rel.yaml'), `images:\n  - ghcr.io/a/b@${D}\n  - ghcr.io/a/b@${D}\n`);
    const m = join(d, 'm.yaml');
    await writeFile(m, 'version: 1\nimages:\n  - fromFile: rel.yaml\n    select: $.images[*]\n');
    const l = await readMirrorLists([m]);
    assert.equal(l.images.length, 1);
  });

  it('points every problem at the select: value, naming the selector, the value and where it is in the file', async (t) => {
    const d = await dir(t);
    await writeFile(join(d, 'rel.json'), JSON.stringify({ images: [{ image: `ghcr.io/a/b@${D}` }, { image: 42 }, { image: 'Not A Ref' }] }));
    const m = join(d, 'm.yaml');
    await writeFile(m, 'version: 1\nimages:\n  - fromFile: rel.json\n    select: "$.images[*].image"\n');
    const err = await assertRejectsCode(readMirrorLists([m]), 'MIRROR_INVALID');
    assert.deepEqual(problemsOf(err, m), [['MIRROR_INVALID', '4:13'], ['MIRROR_INVALID', '4:13']]);
    const [p1, p2] = (err as MultiError).problems;
    assert.ok(p1?.message.includes('$.images[*].image') && p1.message.includes("$['images'][1]['image']") && p1.message.includes('42'), p1?.message);
    assert.ok(p2?.message.includes('"Not A Ref"') && p2.message.includes("$['images'][2]['image']"), p2?.message);
  });

  it('refuses a bad selector at parse time, before any file is read', () => {
    const err = assertThrowsCode(() => parse('version: 1\nimages:\n  - fromFile: rel.json\n    select: "$.images[*"\n'), 'MIRROR_INVALID');
    assert.deepEqual(problemsOf(err, F), [['MIRROR_INVALID', '4:13']]);
    const missing = assertThrowsCode(() => parse('version: 1\nimages:\n  - fromFile: rel.json\n'), 'MIRROR_INVALID');
    assert.deepEqual(problemsOf(missing, F), [['MIRROR_INVALID', '3:5']]);
  });

  it('reports a missing file, bad JSON and a selector that yields nothing, at the entry', async (t) => {
    const d = await dir(t);
    await writeFile(join(d, 'bad.json'), '{"images": [');
    await writeFile(join(d, 'ok.json'), '{"images": []}');
    const m = join(d, 'm.yaml');
    await writeFile(m, 'version: 1\nimages:\n  - fromFile: gone.json\n    select: $.a\n  - fromFile: bad.json\n    select: $.a\n  - fromFile: ok.json\n    select: $.images[*]\n');
    const err = await assertRejectsCode(readMirrorLists([m]), 'MIRROR_INVALID');
    assert.deepEqual(problemsOf(err, m), [['MIRROR_INVALID', '3:5'], ['MIRROR_INVALID', '5:5'], ['MIRROR_INVALID', '8:13']]);
  });
});
