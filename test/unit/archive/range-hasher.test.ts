import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RangeHasherPool, type FileRange } from '../../../src/archive/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './temp.js';

const KIB = 1024;
const MIB = 1024 * KIB;

const sha = (data: Buffer, ranges: readonly FileRange[]): string => {
  const h = createHash('sha256');
  for (const r of ranges) h.update(data.subarray(r.offset, r.offset + r.length));
  return h.digest('hex');
};

/** Ranges like a .tar.zst's raw blocks: 128 KiB spans with 3-byte gaps between them. */
function blocks(from: number, count: number, size = 128 * KIB, gap = 3): FileRange[] {
  return Array.from({ length: count }, (_, i) => ({ offset: from + i * (size + gap), length: size }));
}

describe('RangeHasherPool', () => {
  const data = randomBytes(5 * MIB + 7_777);

  it('hashes ranges in order: small gaps read over, large gaps and odd sizes, several entries at once', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f');
    await writeFile(path, data);
    const pool = new RangeHasherPool(2);
    t.after(() => pool.close());
    const cases: FileRange[][] = [
      blocks(3, 20),
      [{ offset: 0, length: 1 }, { offset: 100, length: 5 }, { offset: 4 * MIB, length: MIB + 7_000 }],
      [{ offset: 10, length: 300 * KIB }, { offset: 300 * KIB + 10, length: 700 * KIB }],
      [{ offset: 50, length: 0 }],
      [],
    ];
    let progress = 0;
    const got = await Promise.all(cases.map((ranges) => pool.hash(path, ranges, { onProgress: (n) => { progress += n; } })));
    for (let i = 0; i < cases.length; i++) {
      assert.equal(got[i]!.hex, sha(data, cases[i]!), `case ${i}`);
      assert.equal(got[i]!.bytes, cases[i]!.reduce((s, r) => s + r.length, 0));
    }
    assert.equal(progress, got.reduce((s, g) => s + g.bytes, 0));
  });

  it('a file shorter than its ranges is BUNDLE_UNREADABLE; a missing one an I/O error; the pool goes on', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f');
    await writeFile(path, data.subarray(0, MIB));
    const pool = new RangeHasherPool(1);
    t.after(() => pool.close());
    await assertRejectsCode(pool.hash(path, [{ offset: MIB - 10, length: 20 }]), 'BUNDLE_UNREADABLE');
    await assert.rejects(pool.hash(join(dir, 'absent'), [{ offset: 0, length: 1 }]));
    assert.equal((await pool.hash(path, [{ offset: 0, length: MIB }])).hex, sha(data, [{ offset: 0, length: MIB }]));
  });

  it('an abort rejects the running and the queued hashes, and the pool still hashes afterwards', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f');
    await writeFile(path, data);
    const pool = new RangeHasherPool(1);
    t.after(() => pool.close());
    const ac = new AbortController();
    const big = Array.from({ length: 200 }, () => ({ offset: 0, length: data.length }));
    const running = pool.hash(path, big, { signal: ac.signal });
    const queued = pool.hash(path, big, { signal: ac.signal });
    ac.abort();
    await assertRejectsCode(running, 'ABORTED');
    await assertRejectsCode(queued, 'ABORTED');
    assert.equal((await pool.hash(path, [{ offset: 1, length: 1000 }])).hex, sha(data, [{ offset: 1, length: 1000 }]));
  });
});
