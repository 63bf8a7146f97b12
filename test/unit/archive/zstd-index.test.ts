import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it, type TestContext } from 'node:test';
import { Header } from 'tar';
import {
  PlacedFile, RangeHasherPool, bytesOfRanges, createTarWriter, createZstdCompressStream, createZstdDecompressStream, expandRanges, indexZstdTar,
  layoutArchive, readFileRanges, readTarEntries, type ArchiveLayout, type FileRange, type PlacedEntry, type ZstdTarEntry, type ZstdTarIndex,
} from '../../../src/archive/index.js';
import { TAR_END_BYTES } from '../../../src/archive/tar-header.js';
import { sliceRanges } from '../../../src/bundle/source.js';
import { RAW_FRAME_HEADER, compressFrame } from '../../../src/archive/zstd.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { rawFrame, skippable, tarOf } from './frames.js';
import { tempDir } from './temp.js';

const KIB = 1024;
const BLOCK = 128 * KIB;

/** Every entry of a .tar.zst as the sequential reader (the reference) sees it, in archive order. */
async function referenceEntries(zst: Buffer): Promise<Map<string, Buffer>> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from([zst]), createZstdDecompressStream(), new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }));
  return tarEntries(Buffer.concat(parts));
}

async function tarEntries(tar: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readTarEntries(Readable.from([tar]))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c as Buffer);
    out.set(e.path, Buffer.concat(parts));
  }
  return out;
}

async function bytesOf(file: string, e: ZstdTarEntry): Promise<Buffer> {
  if (e.ranges) {
    const parts: Buffer[] = [];
    for await (const c of readFileRanges(file, e.ranges)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }
  assert.ok(e.data, 'an entry with neither ranges nor data');
  return e.data;
}

function assertOk(index: ZstdTarIndex): asserts index is Extract<ZstdTarIndex, { ok: true }> {
  if (!index.ok) assert.fail(`not indexed: ${index.reason}`);
}

/** Index `file` and check every entry against the sequential reader's view of it. */
async function checkIndex(file: string, index: ZstdTarIndex = indexZstdTar(file)): Promise<ReadonlyMap<string, ZstdTarEntry>> {
  assertOk(index);
  const expected = await referenceEntries(await readFile(file));
  assert.deepEqual([...index.entries.keys()], [...expected.keys()]);
  for (const [path, e] of index.entries) {
    const want = expected.get(path)!;
    assert.equal(e.size, want.length, `${path}: size`);
    assert.ok(!(e.ranges && e.data), `${path}: ranges or data, not both`);
    if (e.ranges || e.data) assert.ok((await bytesOf(file, e)).equals(want), `${path}: bytes`);
  }
  return index.entries;
}




/** The ranges of a raw region entry: blocks of 128 KiB behind 3-byte headers. */
function assertBlockRanges(path: string, e: ZstdTarEntry, size: number): void {
  assert.ok(e.ranges, `${path}: stored raw, so it has ranges`);
  assert.equal(e.data, undefined);
  assert.equal(bytesOfRanges(e.ranges), size);
  assert.ok(e.ranges.length <= 3, `${path}: a stored layer's blocks are at most three ranges (the first, a run, the last)`);
  const blocks = expandRanges(e.ranges);
  assert.equal(blocks.length, Math.ceil(size / BLOCK), `${path}: one range per raw block, written out`);
  blocks.forEach((r, i) => {
    assert.ok(r.length <= BLOCK);
    if (i > 0) assert.equal(r.offset, blocks[i - 1]!.offset + blocks[i - 1]!.length + 3, `${path}: a 3-byte block header between ranges`);
  });
}

/**
 * A .tar.zst written the way the in-place bundle writer writes it (placed.test.ts): front
 * literals, raw region frames written in place, then a compressed tail with streamed entries.
 */
async function writePlaced(file: string, front: PlacedEntry[], regions: Map<string, Buffer>, tail: [string, Buffer][]): Promise<ArchiveLayout> {
  const layout = layoutArchive([...front, ...[...regions].map(([path, data]) => ({ path, size: data.length }))], 'tar.zst', 3);
  const fh = await open(file, 'wx');
  try {
    const placed = new PlacedFile(fh, layout);
    await placed.writeLiterals();
    // Backwards, in uneven chunks: the file order does not depend on the write order.
    for (let i = layout.regions.length - 1; i >= 0; i--) {
      const data = regions.get(layout.regions[i]!.path)!;
      const parts = [data.subarray(0, 5), data.subarray(5, BLOCK + 9), data.subarray(BLOCK + 9)].filter((p) => p.length > 0);
      await pipeline(Readable.from(parts), placed.regionSink(i));
    }
    const sink = placed.tailSink();
    const compress = createZstdCompressStream();
    const done = pipeline(compress, sink);
    compress.write(layout.tailPrefix);
    const tar = createTarWriter(compress);
    for (const [path, data] of tail) await tar.addEntry(path, data.length, data);
    await tar.finish();
    await done;
  } finally {
    await fh.close();
  }
  return layout;
}

describe('indexZstdTar', () => {
  const front: PlacedEntry[] = [
    { path: 'airlock.json', size: 11, data: Buffer.from('{"a":"b"}\n\n') },
    { path: 'empty-in-memory', size: 0, data: Buffer.alloc(0) },
    { path: 'empty-no-data', size: 0 },
    { path: 'blobs/sha256/config', size: 700, data: Buffer.alloc(700, 3) },
  ];
  const regions = new Map<string, Buffer>([
    ['blobs/sha256/one-byte', randomBytes(1)],
    ['blobs/sha256/exact-block', randomBytes(BLOCK)],
    ['blobs/sha256/multi', randomBytes(3 * BLOCK + 777)],
    ['blobs/sha256/odd', randomBytes(513)],
    // A pax header in front (name over 100 bytes); names with a directory part are covered by
    // sync-tar.test.ts and tar.test.ts.
    ['long-name-'.repeat(12), randomBytes(BLOCK + 1)],
  ]);
  const tail: [string, Buffer][] = [
    ['blobs/sha256/tail-small', Buffer.alloc(200_000, 9)],
    ['blobs/sha256/tail-odd', Buffer.from('x'.repeat(1001))],
    ['blobs/sha256/tail-large', Buffer.alloc((1 << 20) + 1, 7)], // compressed and over maxHeld: neither
  ];

  it('a placed .tar.zst: raw regions get block ranges, in-memory entries their bytes, all equal to what the reader sees', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    await writePlaced(file, front, regions, tail);
    const entries = await checkIndex(file);
    for (const [path, data] of regions) assertBlockRanges(path, entries.get(path)!, data.length);
    for (const e of front) {
      const got = entries.get(e.path)!;
      if (e.size > 0) {
        assert.equal(got.ranges, undefined, `${e.path}: compressed, no ranges`);
        assert.deepEqual(got.data, e.data);
      } else {
        assert.equal(got.size, 0);
        assert.equal((await bytesOf(file, got)).length, 0);
      }
    }
    assert.deepEqual(entries.get('blobs/sha256/tail-small')!.data, tail[0]![1]);
    assert.deepEqual(entries.get('blobs/sha256/tail-odd')!.data, tail[1]![1]);
    const large = entries.get('blobs/sha256/tail-large')!;
    assert.equal(large.size, (1 << 20) + 1);
    assert.equal(large.ranges, undefined);
    assert.equal(large.data, undefined);
  });

  it('a stored layer: the headers of its full blocks after the first are predicted (rawBlock), the first and the last are read', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    await writePlaced(file, front, regions, tail);
    const index = indexZstdTar(file);
    assertOk(index);
    const bytes = await readFile(file);
    // 'multi' has 4 blocks: the 2nd and 3rd are predicted, one run of two; layers of 1 or 2 blocks have none.
    const multi = index.entries.get('blobs/sha256/multi')!.ranges!;
    assert.deepEqual(multi.map((r) => [r.rawBlock, r.count]), [[undefined, undefined], [BLOCK, 2], [undefined, undefined]]);
    assert.deepEqual(expandRanges(multi).map((r) => r.rawBlock), [undefined, BLOCK, BLOCK, undefined]);
    for (const [path, data] of regions) {
      if (data.length <= 2 * BLOCK) assert.ok(index.entries.get(path)!.ranges!.every((r) => r.rawBlock === undefined), path);
    }
    // Each predicted header is where the ranges say, and is what the writer writes there.
    for (const r of expandRanges(multi)) {
      if (r.rawBlock !== undefined) assert.deepEqual([...bytes.subarray(r.offset - 3, r.offset)], [0x00, 0x00, 0x10]);
    }
  });

  it('a damaged predicted block header: the index does not read it, every reader of the bytes refuses it (BUNDLE_UNREADABLE)', async (t) => {
    const dir = await tempDir(t);
    const good = join(dir, 'good.tar.zst');
    await writePlaced(good, front, regions, tail);
    const goodIndex = indexZstdTar(good);
    assertOk(goodIndex);
    const ranges = goodIndex.entries.get('blobs/sha256/multi')!.ranges!;
    const blocks = expandRanges(ranges);
    const predicted = blocks.filter((r) => r.rawBlock !== undefined);
    assert.equal(predicted.length, 2);
    const pool = new RangeHasherPool(1);
    t.after(() => pool.close());
    // The raw 128 KiB header 00 00 10 with: the last-block bit, type RLE, type compressed, another size.
    const damages: [string, number[]][] = [['last', [0x01, 0x00, 0x10]], ['RLE', [0x02, 0x00, 0x10]], ['compressed', [0x04, 0x00, 0x10]], ['size', [0x08, 0x00, 0x10]]];
    for (const r of predicted) {
      for (const [what, header] of damages) {
        const bad = join(dir, `bad-${r.offset}-${what}.tar.zst`);
        const bytes = await readFile(good);
        bytes.set(header, r.offset - 3);
        await writeFile(bad, bytes);
        const index = indexZstdTar(bad);
        assertOk(index);
        assert.deepEqual(index.entries.get('blobs/sha256/multi')!.ranges, ranges, 'the index reads no predicted header');
        const read = async (rs: readonly FileRange[]): Promise<void> => {
          for await (const c of readFileRanges(bad, rs)) void c;
        };
        // Read whole (the run as the index holds it, and written out block by block), from the
        // damaged block on (a read that starts with its header), and the run cut at that block.
        const from = blocks.indexOf(r) * BLOCK;
        for (const rs of [ranges, blocks, blocks.slice(blocks.indexOf(r)), sliceRanges(ranges, from, bytesOfRanges(ranges))]) {
          const err = await assertRejectsCode(read(rs), 'BUNDLE_UNREADABLE');
          assert.match(err.message, new RegExp(`the zstd stream is damaged: the block header at byte ${r.offset - 3} says`), what);
        }
        for (const rs of [ranges, blocks]) {
          const herr = await assertRejectsCode(pool.hash(bad, rs), 'BUNDLE_UNREADABLE');
          assert.match(herr.message, new RegExp(`the block header at byte ${r.offset - 3} says`), what);
        }
      }
    }
    // The good file reads and hashes the same bytes through predicted headers.
    assert.ok((await bytesOf(good, { size: 0, ranges })).equals(regions.get('blobs/sha256/multi')!));
    assert.equal((await pool.hash(good, ranges)).hex, createHash('sha256').update(regions.get('blobs/sha256/multi')!).digest('hex'));
  });

  it('onEntry: each entry as it is indexed, in archive order, the same as the index holds', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    await writePlaced(file, front, regions, tail);
    const seen: [string, ZstdTarEntry][] = [];
    const index = indexZstdTar(file, { onEntry: (name, e) => seen.push([name, e]) });
    assertOk(index);
    assert.deepEqual(seen, [...index.entries]);
  });

  it('maxHeld: compressed entries above it are indexed without their bytes', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    await writePlaced(file, front, regions, tail);
    const index = indexZstdTar(file, { maxHeld: 700 });
    assertOk(index);
    assert.deepEqual(index.entries.get('blobs/sha256/config')!.data, Buffer.alloc(700, 3), 'exactly maxHeld: held');
    const small = index.entries.get('blobs/sha256/tail-small')!;
    assert.equal(small.data, undefined);
    assert.equal(small.ranges, undefined);
    assertBlockRanges('blobs/sha256/multi', index.entries.get('blobs/sha256/multi')!, 3 * BLOCK + 777);
  });

  it('a .tar.zst from the streaming compressor with markStored() chunks: the stored entries get ranges', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    const z = createZstdCompressStream();
    const done = pipeline(z, createWriteStream(file));
    const tar = createTarWriter(z);
    const text = Buffer.from('compressible text '.repeat(100));
    const stored1 = randomBytes(300_000);
    const stored2 = randomBytes(BLOCK + 3001);
    const odd = randomBytes(1001);
    await tar.addEntry('text', text.length, text);
    await tar.addEntry('stored-whole', stored1.length, z.markStored(stored1));
    // Chunks as a layer arrives (writer.ts markAll): uneven, one raw frame of several short blocks.
    const cuts = [0, 1, 8, 8 + BLOCK, 8 + BLOCK + 5, stored2.length];
    await tar.addEntry('stored-chunks', stored2.length, Readable.from(cuts.slice(1).map((end, i) => z.markStored(stored2.subarray(cuts[i], end)))));
    await tar.addEntry('stored-odd', odd.length, z.markStored(odd));
    await tar.addEntry('empty', 0, Buffer.alloc(0));
    await tar.addEntry('text-again', text.length, text);
    await tar.finish();
    await done;
    const entries = await checkIndex(file);
    assert.deepEqual(entries.get('text')!.data, text);
    assert.equal(entries.get('text')!.ranges, undefined);
    assertBlockRanges('stored-whole', entries.get('stored-whole')!, stored1.length);
    assert.deepEqual(entries.get('stored-chunks')!.ranges!.map((r) => r.length), [1, 7, BLOCK, 5, stored2.length - 13 - BLOCK]);
    assert.deepEqual(entries.get('stored-odd')!.ranges!.map((r) => r.length), [1001]);
    assert.deepEqual(entries.get('text-again')!.data, text);
  });

  it('an all-compressed .tar.zst (compressFrame, or the stream without marks): entries come back as data, no ranges', async (t) => {
    const dir = await tempDir(t);
    const files: [string, Buffer][] = [
      ['a', Buffer.from('hello')],
      ['b/c', Buffer.alloc(5000, 1)],
      ['zero', Buffer.alloc(0)],
      ['d', Buffer.from('y'.repeat(70_001))],
    ];
    const tar = tarOf(files);
    const frame = join(dir, 'frame.tar.zst');
    await writeFile(frame, compressFrame(tar, 3));
    const streamed = join(dir, 'stream.tar.zst');
    await pipeline(Readable.from([tar.subarray(0, 700), tar.subarray(700)]), createZstdCompressStream(), createWriteStream(streamed));
    for (const file of [frame, streamed]) {
      const entries = await checkIndex(file);
      for (const [path, data] of files) {
        const e = entries.get(path)!;
        if (data.length > 0) {
          assert.deepEqual(e.data, data, `${path} in ${file}`);
          assert.equal(e.ranges, undefined);
        } else {
          // No bytes anywhere: an empty range list (what the reader then reads as nothing).
          assert.deepEqual(e.ranges, []);
        }
      }
    }
  });

  it('a tar split over several compressed frames (a header across a frame boundary) with skippable frames between', async (t) => {
    const dir = await tempDir(t);
    const files: [string, Buffer][] = [['a', Buffer.from('first')], ['b', Buffer.alloc(3000, 2)], ['c', Buffer.from('third')]];
    const tar = tarOf(files);
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, Buffer.concat([
      skippable(Buffer.from('at the front')),
      compressFrame(tar.subarray(0, 700), 3),
      skippable(Buffer.alloc(0), 0xf),
      compressFrame(tar.subarray(700, 3800), 1),
      rawFrame(tar.subarray(3800, 4100), 100),
      compressFrame(tar.subarray(4100), 3),
    ]));
    const entries = await checkIndex(file);
    assert.deepEqual(entries.get('a')!.data, Buffer.from('first'));
    assert.deepEqual(entries.get('c')!.data, Buffer.from('third'));
    // b's bytes are partly compressed, partly raw (3800–4100): neither ranges nor data.
    assert.equal(entries.get('b')!.size, 3000);
    assert.equal(entries.get('b')!.ranges, undefined);
    assert.equal(entries.get('b')!.data, undefined);
  });

  it('a tar entirely in raw frames of small blocks: headers are read from the file, every entry gets ranges', async (t) => {
    const dir = await tempDir(t);
    const dirHeader = Buffer.alloc(512);
    new Header({ path: 'dir/', type: 'Directory', size: 0, mode: 0o755, mtime: new Date(0) }).encode(dirHeader, 0);
    const files: [string, Buffer][] = [
      ['a', randomBytes(1000)],
      ['n'.repeat(150), randomBytes(77)], // a pax header in raw blocks
      ['zero', Buffer.alloc(0)],
      ['b', randomBytes(3 * BLOCK + 1)],
    ];
    const tar = tarOf(files.slice(0, 2), [dirHeader]);
    const rest = tarOf(files.slice(2));
    const all = Buffer.concat([tar.subarray(0, tar.length - TAR_END_BYTES), rest]);
    const file = join(dir, 'x.tar.zst');
    // Blocks of 300 bytes: headers straddle block boundaries, entry data comes in many ranges.
    await writeFile(file, Buffer.concat([rawFrame(all.subarray(0, 5000), 300), rawFrame(all.subarray(5000))]));
    const entries = await checkIndex(file);
    assert.deepEqual([...entries.keys()], files.map(([p]) => p));
    for (const [path] of files) assert.ok(entries.get(path)!.ranges, `${path}: ranges`);
    assert.ok(entries.get('a')!.ranges!.length >= 4, 'a 1000-byte entry over 300-byte blocks');
  });

  it('a skippable frame in front of a placed archive is skipped, the ranges move with it', async (t) => {
    const dir = await tempDir(t);
    const plain = join(dir, 'plain.tar.zst');
    await writePlaced(plain, front, regions, tail.slice(0, 1));
    const pad = skippable(randomBytes(1234));
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, Buffer.concat([pad, await readFile(plain)]));
    const before = indexZstdTar(plain);
    const entries = await checkIndex(file);
    assertOk(before);
    const path = 'blobs/sha256/multi';
    assert.deepEqual(entries.get(path)!.ranges, before.entries.get(path)!.ranges!.map((r) => ({ ...r, offset: r.offset + pad.length })));
  });

  it('maxDecoded: compressed frames that decode to more are not indexed', async (t) => {
    const dir = await tempDir(t);
    const tar = tarOf([['zeros', Buffer.alloc(200_000)]]);
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, compressFrame(tar, 3));
    const index = indexZstdTar(file, { maxDecoded: 100_000 });
    assert.equal(index.ok, false);
    assert.match((index as { reason: string }).reason, /too much/);
    assertOk(indexZstdTar(file, { maxDecoded: tar.length }));
    assert.equal(indexZstdTar(file, { maxDecoded: tar.length - 1 }).ok, false);
  });

  it('a raw block above the 128 KiB block maximum is not indexed (zstd itself refuses it)', async (t) => {
    const dir = await tempDir(t);
    const tar = tarOf([['big', randomBytes(200 * KIB)]]);
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, rawFrame(tar, 200 * KIB + 1024));
    const index = indexZstdTar(file);
    assert.equal(index.ok, false);
    assert.match((index as { reason: string }).reason, /a block of \d+ bytes/);
  });

  describe('damaged or foreign files answer ok: false with a reason', () => {
    async function notIndexable(t: TestContext, bytes: Buffer, reason: RegExp): Promise<void> {
      const dir = await tempDir(t);
      const file = join(dir, 'x.tar.zst');
      await writeFile(file, bytes);
      const index = indexZstdTar(file);
      assert.equal(index.ok, false, `indexed: ${index.ok ? [...index.entries.keys()].join(', ') : ''}`);
      assert.match((index as { reason: string }).reason, reason);
    }

    async function placedBytes(t: TestContext): Promise<{ bytes: Buffer; layout: ArchiveLayout }> {
      const dir = await tempDir(t);
      const file = join(dir, 'x.tar.zst');
      const layout = await writePlaced(file, front, regions, tail.slice(0, 1));
      return { bytes: await readFile(file), layout };
    }

    it('cut inside a raw region frame', async (t) => {
      const { bytes, layout } = await placedBytes(t);
      const multi = layout.regions.find((r) => r.path === 'blobs/sha256/multi')!;
      await notIndexable(t, bytes.subarray(0, multi.offset + 1000), /ends inside a frame/);
      await notIndexable(t, bytes.subarray(0, multi.offset + 2), /ends inside a frame/); // inside a block header
    });

    it('cut before the end-of-archive marker, at a frame boundary', async (t) => {
      const { bytes, layout } = await placedBytes(t);
      await notIndexable(t, bytes.subarray(0, layout.tailOffset), /before the end-of-archive marker/);
    });

    it('cut inside the last compressed frame (its checksum)', async (t) => {
      const { bytes } = await placedBytes(t);
      await notIndexable(t, bytes.subarray(0, bytes.length - 2), /ends inside a frame/);
    });

    it('truncated on disk after a good index: reading the ranges then fails BUNDLE_UNREADABLE', async (t) => {
      const dir = await tempDir(t);
      const file = join(dir, 'x.tar.zst');
      const layout = await writePlaced(file, front, regions, tail.slice(0, 1));
      const index = indexZstdTar(file);
      assertOk(index);
      const multi = layout.regions.find((r) => r.path === 'blobs/sha256/multi')!;
      await truncate(file, multi.offset + 1000);
      await assertRejectsCode(bytesOf(file, index.entries.get('blobs/sha256/multi')!), 'BUNDLE_UNREADABLE');
    });

    it('garbage, a plain tar, an empty file, a missing file', async (t) => {
      await notIndexable(t, Buffer.from('this is not a zstd frame, nor anything else'), /no zstd frame at byte 0/);
      await notIndexable(t, tarOf([['a', Buffer.from('plain')]]), /no zstd frame/);
      await notIndexable(t, Buffer.alloc(0), /before the end-of-archive marker/);
      const dir = await tempDir(t);
      const missing = indexZstdTar(join(dir, 'nope'));
      assert.equal(missing.ok, false);
      assert.match((missing as { reason: string }).reason, /cannot open/);
    });

    it('garbage after a good frame, a skippable frame longer than the file, a damaged compressed frame', async (t) => {
      const tar = tarOf([['a', Buffer.from('x'.repeat(3000))]]);
      await notIndexable(t, Buffer.concat([compressFrame(tar.subarray(0, 600), 3), Buffer.from('garbage garbage')]), /no zstd frame at byte/);
      await notIndexable(t, skippable(Buffer.alloc(10)).subarray(0, 12), /ends|before/);
      const damaged = compressFrame(tar, 3);
      damaged[damaged.length - 1]! ^= 0xff; // the checksum
      await notIndexable(t, damaged, /.+/);
      // A reserved block type (3) right after the frame header.
      await notIndexable(t, Buffer.concat([RAW_FRAME_HEADER, Buffer.from([0x07, 0, 0])]), /reserved block type/);
    });

    it('an unsafe entry ("../x", a symlink, a duplicate) is refused, in compressed and in raw frames, as the reader refuses it', async (t) => {
      const link = Buffer.alloc(512);
      new Header({ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd', size: 0, mode: 0o777, mtime: new Date(0) }).encode(link, 0);
      const cases: [Buffer, RegExp][] = [
        [tarOf([['ok', Buffer.from('fine')], ['../x', Buffer.from('evil')]]), /"\.\.\/x" contains a "\.\." component/],
        [tarOf([['ok', Buffer.from('fine')]], [link]), /SymbolicLink, not a regular file/],
        [tarOf([['ok', Buffer.from('fine')], ['ok', Buffer.from('again')]]), /duplicate archive entry ok/],
      ];
      for (const [tar, reason] of cases) {
        await assertRejectsCode(tarEntries(tar), 'UNSAFE_ARCHIVE_ENTRY');
        await notIndexable(t, compressFrame(tar, 3), reason);
        await notIndexable(t, rawFrame(tar), reason);
      }
    });
  });
});
