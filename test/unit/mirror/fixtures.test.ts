import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { MultiError, type ErrorCode } from '../../../src/errors.js';
import { readMirrorLists } from '../../../src/mirror/index.js';
import { formatReference } from '../../../src/reference/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

const DIR = fileURLToPath(new URL('../../../../fixtures/mirror/', import.meta.url));
const fx = (name: string): string => join(DIR, name);

async function problemsOf(paths: string[]): Promise<[ErrorCode, string][]> {
  const err = await assertRejectsCode(readMirrorLists(paths), 'MIRROR_INVALID');
  assert.ok(err instanceof MultiError);
  return err.problems.map((p) => [p.code, (p.where ?? '').slice(DIR.length)]);
}

describe('committed mirror lists (fixtures/mirror)', () => {
  it('valid.yaml: every form parses', async () => {
    const l = await readMirrorLists([fx('valid.yaml')]);
    assert.deepEqual([...l.registries.keys()], ['registry.local:5001', 'ghcr.io', 'quay.io']);
    assert.equal(l.registries.get('ghcr.io')?.authfile, fx('auth.json'));
    assert.deepEqual(l.images.map((e) => `${e.kind} ${e.kind === 'ref' ? formatReference(e.ref) : e.kind === 'repository' ? e.repository.repository : e.kind}`), [
      'ref docker.io/library/nginx:1.27',
      'ref ghcr.io/sentari-dev/sentari/server:1.0.0',
      `ref ghcr.io/cloudgrid-dev/cloudgrid-bff@sha256:${'a'.repeat(64)}`,
      `ref registry.local:5001/team/app:2.1@sha256:${'a'.repeat(64)}`,
      'ref docker.io/library/redis:latest',
      'repository org/app',
      'repository org/tool',
      'repository org/worker',
    ]);
    assert.deepEqual(l.images.map((e) => e.verify?.kind), [undefined, undefined, undefined, undefined, undefined, 'key', 'keyless', 'keyless']);
    assert.deepEqual(l.charts.map((c) => c.kind), ['oci', 'oci', 'repo']);
    assert.deepEqual(l.files.map((f) => `${f.kind} ${f.name}`), ['path release-manifest.json', 'path release-notes.txt', 'url checksums.txt']);
  });

  const M: ErrorCode = 'MIRROR_INVALID';
  const R: ErrorCode = 'REFERENCE_INVALID';
  const invalid: [string, [ErrorCode, string][]][] = [
    ['invalid-many.yaml', [
      [M, 'invalid-many.yaml:2:10'], [M, 'invalid-many.yaml:4:15'], [M, 'invalid-many.yaml:5:3'], [M, 'invalid-many.yaml:7:3'],
      [M, 'invalid-many.yaml:8:19'], [R, 'invalid-many.yaml:10:5'], [M, 'invalid-many.yaml:12:5'], [M, 'invalid-many.yaml:14:5'],
      [M, 'invalid-many.yaml:16:21'], [M, 'invalid-many.yaml:18:20'], [M, 'invalid-many.yaml:20:10'], [M, 'invalid-many.yaml:22:5'],
      [M, 'invalid-many.yaml:22:11'], [M, 'invalid-many.yaml:24:5'], [M, 'invalid-many.yaml:26:5'], [M, 'invalid-many.yaml:28:13'],
    ]],
    ['invalid-syntax.yaml', [[M, 'invalid-syntax.yaml:5:3']]],
    ['invalid-duplicate-key.yaml', [[R, 'invalid-duplicate-key.yaml:5:10'], [M, 'invalid-duplicate-key.yaml:6:1']]],
    ['empty.yaml', [[M, 'empty.yaml:1:1']]],
  ];
  for (const [name, expected] of invalid) {
    it(`${name}: every problem at its line and column`, async () => {
      assert.deepEqual(await problemsOf([fx(name)]), expected);
    });
  }

  it('problems of several files are reported together', async () => {
    const got = await problemsOf([fx('invalid-syntax.yaml'), fx('valid.yaml'), fx('empty.yaml')]);
    assert.deepEqual(got, [[M, 'invalid-syntax.yaml:5:3'], [M, 'empty.yaml:1:1']]);
  });

  it('merge-a.yaml + merge-b.yaml: duplicates collapse, registry settings combine', async () => {
    const l = await readMirrorLists([fx('merge-a.yaml'), fx('merge-b.yaml')]);
    assert.deepEqual(l.images.map((e) => (e.kind === 'ref' ? formatReference(e.ref) : '')), [
      'docker.io/library/nginx:1.27', 'ghcr.io/org/app:1.0', 'quay.io/org/tool:2.0',
    ]);
    assert.equal(l.images[0]?.where, `${fx('merge-a.yaml')}:8:5`);
    assert.equal(l.images[0]?.platforms, undefined, 'merge-b.yaml asks for every platform of nginx');
    assert.deepEqual(l.images[1]?.platforms, [{ os: 'linux', architecture: 'amd64' }], 'merge-a.yaml defaults apply to its own entries');
    assert.equal(l.images[2]?.referrers, false, 'merge-b.yaml defaults apply to its own entries');
    assert.deepEqual(l.registries.get('ghcr.io'), { tls: 'verify', authfile: fx('auth.json'), where: `${fx('merge-a.yaml')}:6:3` });
    assert.equal(l.files.length, 1);
  });

  it('merge-a.yaml + merge-conflict.yaml: conflicts name the second place (and the first in the message)', async () => {
    const got = await problemsOf([fx('merge-a.yaml'), fx('merge-conflict.yaml')]);
    assert.deepEqual(got, [[M, 'merge-conflict.yaml:4:3'], [M, 'merge-conflict.yaml:6:5'], [M, 'merge-conflict.yaml:7:5']]);
  });
});

describe('readMirrorLists', () => {
  it('a file that cannot be read is an IO error naming the path', async () => {
    const err = await assertRejectsCode(readMirrorLists([fx('does-not-exist.yaml')]), 'IO');
    assert.equal(err.where, fx('does-not-exist.yaml'));
  });

  it('a directory is an IO error naming the path', async () => {
    const err = await assertRejectsCode(readMirrorLists([DIR]), 'IO');
    assert.equal(err.where, DIR);
  });

  it('no file at all is a usage error', async () => {
    await assertRejectsCode(readMirrorLists([]), 'USAGE');
  });

  it('an oversized file is refused before it is parsed', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-mirror-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'big.yaml');
    await writeFile(path, `version: 1\n# ${'x'.repeat(5 * 1024 * 1024)}\n`);
    await assertRejectsCode(readMirrorLists([path]), 'MIRROR_INVALID');
  });
});
