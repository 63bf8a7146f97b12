import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MultiError } from '../../../src/errors.js';
import { compareLock, createLockFile, parseLockFile, readLockFile, writeLockFile } from '../../../src/mirror/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('lock file', () => {
  const resolved = new Map([
    ['quay.io/org/app:v1.2.0', d('b')],
    ['docker.io/library/nginx:1.27', d('a')],
  ]);

  it('round-trips, sorted by source, with a version field and nothing left behind', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'airlock.lock.json');
    await writeLockFile(path, createLockFile(resolved));
    const text = await readFile(path, 'utf8');
    assert.equal(JSON.parse(text).version, 1);
    assert.ok(text.endsWith('\n'));
    const lock = await readLockFile(path);
    assert.deepEqual(lock, {
      version: 1,
      entries: [
        { source: 'docker.io/library/nginx:1.27', digest: d('a') },
        { source: 'quay.io/org/app:v1.2.0', digest: d('b') },
      ],
    });
    assert.deepEqual(await readdir(dir), ['airlock.lock.json']);
    // Writing the same lock again gives the same bytes.
    await writeLockFile(path, lock);
    assert.equal(await readFile(path, 'utf8'), text);
  });

  it('a missing lock file is an IO error naming the path', async (t) => {
    const path = join(await tempDir(t), 'nope.json');
    const err = await assertRejectsCode(readLockFile(path), 'IO');
    assert.equal(err.where, path);
  });

  it('a lock file that is not JSON names line and column', () => {
    const err = assertThrowsCode(() => parseLockFile('{\n  "version": 1,\n  "entries": [}\n', '/l.json'), 'MIRROR_INVALID');
    assert.equal(err.where, '/l.json:3:15');
  });

  it('reports every problem of a malformed lock file', () => {
    const text = JSON.stringify({
      version: 2,
      extra: true,
      entries: [{ source: 'a.io/x:1', digest: 'sha256:abc' }, { source: '', digest: d('a') }, 'x', { source: 'a.io/y:1', digest: d('a') }, { source: 'a.io/y:1', digest: d('b') }],
    });
    const err = assertThrowsCode(() => parseLockFile(text, '/l.json'), 'MIRROR_INVALID');
    assert.ok(err instanceof MultiError);
    assert.equal(err.problems.length, 6);
  });

  describe('compareLock', () => {
    const lock = createLockFile(resolved);

    it('finds no difference when everything matches', () => {
      assert.deepEqual(compareLock(lock, new Map(resolved)), []);
    });

    it('reports a moved digest, a new source and a dropped source as LOCK_MISMATCH, sorted', () => {
      const now = new Map([
        ['quay.io/org/app:v1.2.0', d('c')],
        ['quay.io/org/app:v1.3.0', d('e')],
      ]);
      const errs = compareLock(lock, now);
      assert.deepEqual(errs.map((e) => [e.code, e.where]), [
        ['LOCK_MISMATCH', 'docker.io/library/nginx:1.27'],
        ['LOCK_MISMATCH', 'quay.io/org/app:v1.2.0'],
        ['LOCK_MISMATCH', 'quay.io/org/app:v1.3.0'],
      ]);
      for (const e of errs) assert.ok(e.hint);
    });
  });

  it('a lock file written by hand in another order reads sorted', async (t) => {
    const path = join(await tempDir(t), 'l.json');
    await writeFile(path, JSON.stringify({ version: 1, entries: [{ source: 'b', digest: d('b') }, { source: 'a', digest: d('a') }] }));
    assert.deepEqual((await readLockFile(path)).entries.map((e) => e.source), ['a', 'b']);
  });
});
