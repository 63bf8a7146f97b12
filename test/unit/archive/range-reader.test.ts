import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readFileRanges, type FileRange } from '../../../src/archive/index.js';
import { POOL_CHUNK } from '../../../src/util/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './temp.js';

const KIB = 1024;
const MIB = 1024 * KIB;

async function chunksOf(stream: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return out;
}

/** What `ranges` of `data` should read as. */
const expect = (data: Buffer, ranges: readonly FileRange[]): Buffer => Buffer.concat(ranges.map((r) => data.subarray(r.offset, r.offset + r.length)));

describe('readFileRanges', () => {
  const data = randomBytes(3 * MIB + 12_345);

  async function file(t: Parameters<typeof tempDir>[0]): Promise<string> {
    const dir = await tempDir(t);
    const path = join(dir, 'f');
    await writeFile(path, data);
    return path;
  }

  it('gathers ranges separated by small gaps (3 bytes, up to 64) into one chunk, in order', async (t) => {
    const path = await file(t);
    const ranges = [
      { offset: 10, length: 100 },
      { offset: 113, length: 50 }, // gap 3
      { offset: 163 + 64, length: 1000 }, // gap 64: still gathered
      { offset: 1227 + 1, length: 1 }, // gap 1
    ];
    const chunks = await chunksOf(readFileRanges(path, ranges));
    assert.equal(chunks.length, 1, 'one chunk: the gaps were read over');
    assert.deepEqual(Buffer.concat(chunks), expect(data, ranges));
  });

  it('reads ranges apart across a gap of more than 64 bytes', async (t) => {
    const path = await file(t);
    const ranges = [
      { offset: 0, length: 100 },
      { offset: 165, length: 100 }, // gap 65
      { offset: 100_000, length: 5000 }, // a large gap
    ];
    const chunks = await chunksOf(readFileRanges(path, ranges));
    assert.equal(chunks.length, 3, 'each range after a large gap starts a chunk of its own');
    assert.deepEqual(chunks.map((c) => c.length), [100, 100, 5000]);
    assert.deepEqual(Buffer.concat(chunks), expect(data, ranges));
  });

  it('ranges in any file order, and backwards, come out in the order given', async (t) => {
    const path = await file(t);
    const ranges = [
      { offset: 2 * MIB, length: 10 },
      { offset: 5, length: 7 },
      { offset: 2, length: 3 }, // before the previous one: not a gap
      { offset: 2, length: 3 }, // the same bytes again
    ];
    assert.deepEqual(Buffer.concat(await chunksOf(readFileRanges(path, ranges))), expect(data, ranges));
  });

  it('raw-block-like ranges totalling more than 1 MiB come in chunks of at most 1 MiB, bytes exact', async (t) => {
    const path = await file(t);
    // 128 KiB blocks behind 3-byte headers, as zstd-index.ts reports them, plus an odd last block.
    const ranges: FileRange[] = [];
    let at = 7;
    for (let i = 0; i < 20; i++) {
      const length = i === 19 ? 777 : 128 * KIB;
      ranges.push({ offset: at + 3, length });
      at += 3 + length;
    }
    const total = ranges.reduce((n, r) => n + r.length, 0);
    assert.ok(total > 2 * MIB);
    const chunks = await chunksOf(readFileRanges(path, ranges));
    assert.ok(chunks.every((c) => c.length > 0 && c.length <= POOL_CHUNK), `chunk sizes ${chunks.map((c) => c.length).join(',')}`);
    assert.equal(chunks.length, Math.ceil(total / POOL_CHUNK), 'full chunks: the 3-byte gaps do not split them');
    assert.deepEqual(Buffer.concat(chunks), expect(data, ranges));
    // Each chunk is a buffer of its own: the consumer may keep them all.
    assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length);
  });

  it('one range larger than a chunk is split into 1 MiB chunks', async (t) => {
    const path = await file(t);
    const ranges = [{ offset: 1, length: data.length - 1 }];
    const chunks = await chunksOf(readFileRanges(path, ranges));
    assert.deepEqual(chunks.map((c) => c.length), [MIB, MIB, MIB, data.length - 1 - 3 * MIB]);
    assert.deepEqual(Buffer.concat(chunks), data.subarray(1));
  });

  it('ignores zero-length ranges', async (t) => {
    const path = await file(t);
    const ranges = [
      { offset: 0, length: 0 },
      { offset: 10, length: 10 },
      { offset: 500, length: 0 }, // would break the gathering if it counted
      { offset: 23, length: 10 },
      { offset: data.length + 100, length: 0 }, // beyond the end, but empty
    ];
    const chunks = await chunksOf(readFileRanges(path, ranges));
    assert.equal(chunks.length, 1);
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([data.subarray(10, 20), data.subarray(23, 33)]));
  });

  it('an empty range list is an empty stream', async (t) => {
    const path = await file(t);
    assert.deepEqual(await chunksOf(readFileRanges(path, [])), []);
    assert.deepEqual(await chunksOf(readFileRanges(path, [{ offset: 5, length: 0 }])), []);
  });

  it('a range beyond the end of the file fails BUNDLE_UNREADABLE', async (t) => {
    const path = await file(t);
    const err = await assertRejectsCode(chunksOf(readFileRanges(path, [{ offset: 0, length: 10 }, { offset: data.length - 10, length: 20 }])), 'BUNDLE_UNREADABLE');
    assert.match(err.message, new RegExp(`ends at byte ${data.length}`));
    await assertRejectsCode(chunksOf(readFileRanges(path, [{ offset: data.length + 5, length: 1 }])), 'BUNDLE_UNREADABLE');
    // Past the end in a later chunk: the earlier chunks come first, then the error.
    const got: Buffer[] = [];
    const stream = readFileRanges(path, [{ offset: 0, length: 2 * MIB }, { offset: data.length, length: 1 }]);
    await assertRejectsCode(async () => {
      for await (const c of stream) got.push(c as Buffer);
    }, 'BUNDLE_UNREADABLE');
    assert.deepEqual(Buffer.concat(got), data.subarray(0, 2 * MIB));
  });

  it('a missing file fails with the file error', async (t) => {
    const dir = await tempDir(t);
    const err = await assertRejectsCode(chunksOf(readFileRanges(join(dir, 'nope'), [{ offset: 0, length: 1 }])), 'IO');
    assert.equal((err.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
  });

  it('an aborted signal makes the stream fail, before the first chunk or between chunks', async (t) => {
    const path = await file(t);
    const before = new AbortController();
    before.abort();
    await assertRejectsCode(chunksOf(readFileRanges(path, [{ offset: 0, length: 10 }], before.signal)), 'ABORTED');

    const during = new AbortController();
    const stream = readFileRanges(path, [{ offset: 0, length: 3 * MIB }], during.signal);
    let n = 0;
    await assertRejectsCode(async () => {
      for await (const _c of stream) {
        n++;
        during.abort();
      }
    }, 'ABORTED');
    assert.ok(n >= 1 && n < 3, `${n} chunks before the abort took effect`);
    assert.ok(stream.destroyed);
  });
});
