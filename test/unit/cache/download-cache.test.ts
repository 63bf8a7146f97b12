/**
 * The download cache's references into bundles (src/cache/download-cache.ts): a layer that an
 * export writes in place into a .tar or .tar.zst is not copied into the cache; the cache records
 * where in the bundle it lies and serves it from there while the bundle is where it was written,
 * unchanged (same size and mtime). A reference is only a hint: stale ones answer "not here", and
 * wrong bytes through one are caught by the consumer's digest check.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it, type TestContext } from 'node:test';
import { DownloadCache, openCache } from '../../../src/cache/index.js';
import { locateEntries, type FileRange } from '../../../src/archive/index.js';
import { writeBundle, type BundleBlob } from '../../../src/bundle/index.js';
import { verifyStream } from '../../../src/content/index.js';
import { LayoutStore } from '../../../src/layout/index.js';
import { hexOf, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { airlockJson, airlockManifest, stageLayout, tempDir, type StagedLayout } from '../bundle/fixture.js';

type Form = 'tar' | 'tar.zst';

/** A fixed mtime (whole seconds), so that a test can restore it exactly after changing the bytes. */
const MTIME = 1_700_000_000;

interface Written {
  readonly dir: string;
  readonly output: string;
  readonly staged: StagedLayout;
  /** Layers (stored raw in a .tar.zst: gzip media type), in the staging's order. */
  readonly layers: readonly Descriptor[];
  /** Manifests and configs (compressed frames in a .tar.zst). */
  readonly metadata: readonly Descriptor[];
  readonly cache: DownloadCache;
  /** The writer's own account of where the layers lie (WriteBundleResult.places). */
  readonly places: ReadonlyMap<string, readonly FileRange[]> | undefined;
}

const descOf = (b: BundleBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });

/**
 * A bundle as the export writes it: in place (writeBundle with a layer source), layers from memory.
 * Layers: one of a byte, a few KB, and one over several 128 KiB raw zstd blocks.
 */
async function written(t: TestContext, form: Form, opts: { compressionLevel?: number } = {}): Promise<Written> {
  const dir = await tempDir(t, 'airlock-download-cache-');
  const staged = await stageLayout(join(dir, 'staging'), { images: [[1, 3000, 300_001], [70_000]] });
  const output = join(dir, `site.${form}`);
  const result = await writeBundle({
    layoutDir: staged.dir, airlockJson: airlockJson(airlockManifest(staged)), output, form, order: staged.order,
    ...(opts.compressionLevel !== undefined ? { compressionLevel: opts.compressionLevel } : {}),
    layers: {
      resolve: async () => { throw new Error('no tags here'); },
      exists: async (d) => staged.blobs.has(d.digest),
      fetch: async (d) => Readable.from([staged.blobs.get(d.digest)!]),
    },
  });
  await utimes(output, MTIME, MTIME);
  const cache = await openCache(join(dir, 'cache'));
  return {
    dir, output, staged, cache, places: result.places,
    layers: staged.records.filter((r) => !staged.metadata.has(r.digest)).map(descOf),
    metadata: staged.records.filter((r) => staged.metadata.has(r.digest)).map(descOf),
  };
}

async function bytesOf(body: Readable): Promise<Buffer> {
  return Buffer.concat(await body.toArray());
}

const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

/** What a consumer does with a cache read: verify it against the descriptor while it streams. */
async function consume(cache: DownloadCache, desc: Descriptor): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(await cache.fetch(desc), verifyStream(desc, { where: 'test' }), new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(c);
      cb();
    },
  }));
  return Buffer.concat(parts);
}

async function refNames(cache: DownloadCache): Promise<string[]> {
  return (await readdir(join(cache.root, 'refs', 'sha256')).catch(() => [] as string[])).sort();
}

async function assertServed(cache: DownloadCache, desc: Descriptor, what = ''): Promise<void> {
  assert.equal(await cache.exists(desc), true, `${what}: exists`);
  const got = await bytesOf(await cache.fetch(desc));
  assert.equal(got.length, desc.size, `${what}: size`);
  assert.equal(sha256(got), desc.digest, `${what}: digest`);
}

async function assertStale(cache: DownloadCache, desc: Descriptor, what: string): Promise<void> {
  assert.equal(await cache.exists(desc), false, `${what}: exists() answered true`);
  await assertRejectsCode(cache.fetch(desc), 'NOT_FOUND');
}

/** Change one byte of `desc` in the bundle where the reference says it lies, keeping size and mtime. */
async function alterInPlace(w: Written, desc: Descriptor): Promise<void> {
  const ref = JSON.parse(await readFile(w.cache.refPath(desc.digest), 'utf8')) as { ranges: [number, number][] };
  const at = ref.ranges[0]![0];
  const fh = await open(w.output, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0]! ^= 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
  await utimes(w.output, MTIME, MTIME);
}

describe('DownloadCache.recordBundle and reading through references', () => {
  for (const form of ['tar', 'tar.zst'] as const) {
    it(`${form}: one refs/sha256/<hex>.json per blob in raw ranges; exists() is true and fetch() streams exactly the blob`, async (t) => {
      const w = await written(t, form);
      const absent: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(Buffer.from('not in the bundle')), size: 17 };
      const n = await w.cache.recordBundle(w.output, form, [...w.layers, ...w.metadata, absent]);
      // A .tar holds every entry as plain file bytes; a .tar.zst only its stored layers (the front,
      // manifests and configs, is compressed).
      const expected = form === 'tar' ? [...w.layers, ...w.metadata] : w.layers;
      assert.equal(n, expected.length);
      assert.deepEqual(await refNames(w.cache), expected.map((d) => `${hexOf(d.digest)}.json`).sort());
      for (const d of expected) {
        await assertServed(w.cache, d, d.digest);
        assert.deepEqual(await consume(w.cache, d), w.staged.blobs.get(d.digest));
        assert.equal(await w.cache.holdsFile(d), false, 'a reference is not a file of the cache');
      }
      if (form === 'tar.zst') for (const d of w.metadata) assert.equal(await w.cache.exists(d), false, `${d.digest}: compressed, not referenced`);
      assert.equal(await w.cache.exists(absent), false);
      assert.deepEqual(await readdir(join(w.cache.root, 'blobs', 'sha256')), [], 'no blob was copied into the cache');

      const big = w.layers.find((d) => d.size === 300_001)!;
      const ref = JSON.parse(await readFile(w.cache.refPath(big.digest), 'utf8')) as { v: number; path: string; fileSize: number; mtimeMs: number; ranges: [number, number][] };
      assert.equal(ref.v, 1);
      assert.equal(ref.path, w.output);
      assert.equal(ref.fileSize, (await stat(w.output)).size);
      assert.equal(ref.mtimeMs, MTIME * 1000);
      assert.equal(ref.ranges.reduce((s, r) => s + r[1], 0), big.size);
      if (form === 'tar.zst') assert.equal(ref.ranges.length, 3, 'one range per raw block of 128 KiB');
      else assert.equal(ref.ranges.length, 1);
    });
  }

  for (const form of ['tar', 'tar.zst'] as const) {
    it(`${form}: the writer's places are where indexing the file finds the layers, and record the same references`, async (t) => {
      const w = await written(t, form);
      const found = await locateEntries(w.output, form);
      assert.ok(found && w.places);
      assert.deepEqual([...w.places.keys()].sort(), w.layers.map((d) => `blobs/sha256/${hexOf(d.digest)}`).sort());
      // The same places; the index also marks the blocks whose headers it predicted (rawBlock), which the writer need not.
      const where = (rs: readonly FileRange[] | undefined): FileRange[] | undefined => rs?.map((r) => ({ offset: r.offset, length: r.length }));
      for (const [name, ranges] of w.places) assert.deepEqual(ranges, where(found.get(name)?.ranges), name);
      assert.equal(await w.cache.recordBundle(w.output, form, w.layers), w.layers.length);
      const indexed = await Promise.all(w.layers.map((d) => readFile(w.cache.refPath(d.digest), 'utf8')));
      await rm(join(w.cache.root, 'refs'), { recursive: true });
      assert.equal(await w.cache.recordBundle(w.output, form, w.layers, w.places), w.layers.length);
      assert.deepEqual(await Promise.all(w.layers.map((d) => readFile(w.cache.refPath(d.digest), 'utf8'))), indexed);
      for (const d of w.layers) assert.deepEqual(await consume(w.cache, d), w.staged.blobs.get(d.digest));
    });
  }

  it('a .tar.zst that compresses its layers (compressionLevel given): nothing is recorded', async (t) => {
    const w = await written(t, 'tar.zst', { compressionLevel: 3 });
    assert.equal(await w.cache.recordBundle(w.output, 'tar.zst', [...w.layers, ...w.metadata]), 0);
    for (const d of w.layers) assert.equal(await w.cache.exists(d), false);
    assert.deepEqual(await refNames(w.cache), []);
  });

  it('a blob whose size is not its entry\'s is not recorded; a file that is no .tar.zst records nothing', async (t) => {
    const w = await written(t, 'tar.zst');
    const layer = w.layers[0]!;
    assert.equal(await w.cache.recordBundle(w.output, 'tar.zst', [{ ...layer, size: layer.size + 1 }]), 0);
    const plain = join(w.dir, 'plain.tar.zst');
    await writeFile(plain, 'not a zstd stream');
    assert.equal(await w.cache.recordBundle(plain, 'tar.zst', w.layers), 0);
    assert.deepEqual(await refNames(w.cache), []);
  });

  it('a reference recorded again follows the bundle it last named', async (t) => {
    const w = await written(t, 'tar.zst');
    await w.cache.recordBundle(w.output, 'tar.zst', w.layers);
    const copy = join(w.dir, 'copy.tar.zst');
    await writeFile(copy, await readFile(w.output));
    assert.equal(await w.cache.recordBundle(copy, 'tar.zst', w.layers), w.layers.length);
    await rm(w.output);
    for (const d of w.layers) await assertServed(w.cache, d, 'from the copy');
  });
});

describe('DownloadCache: stale references answer "not here"', () => {
  it('the bundle deleted, moved, replaced by a file of another size, touched, or replaced by a directory', async (t) => {
    const cases: [string, (w: Written) => Promise<void>][] = [
      ['deleted', (w) => rm(w.output)],
      ['moved', (w) => rename(w.output, join(w.dir, 'elsewhere.tar.zst'))],
      ['replaced by a file of another size, same mtime', async (w) => {
        const bytes = await readFile(w.output);
        await rm(w.output);
        await writeFile(w.output, Buffer.concat([bytes, Buffer.alloc(512)]));
        await utimes(w.output, MTIME, MTIME);
      }],
      ['cut short, same mtime', async (w) => {
        await truncate(w.output, (await stat(w.output)).size - 1);
        await utimes(w.output, MTIME, MTIME);
      }],
      ['touched', (w) => utimes(w.output, MTIME + 5, MTIME + 5)],
      ['touched by less than a millisecond', (w) => utimes(w.output, MTIME + 0.0005, MTIME + 0.0005)],
      ['replaced by a directory', async (w) => {
        await rm(w.output);
        await mkdir(w.output);
      }],
    ];
    for (const [what, change] of cases) {
      for (const form of ['tar', 'tar.zst'] as const) {
        const w = await written(t, form);
        assert.equal(await w.cache.recordBundle(w.output, form, w.layers), w.layers.length);
        for (const d of w.layers) await assertServed(w.cache, d, `${form} before: ${what}`);
        await change(w);
        for (const d of w.layers) await assertStale(w.cache, d, `${form}, ${what}`);
      }
    }
  });

  it('a reference file that is not one of ours: garbage, too large, relative path, bad numbers, ranges that do not add up or lie past the end', async (t) => {
    const w = await written(t, 'tar.zst');
    await w.cache.recordBundle(w.output, 'tar.zst', w.layers);
    const layer = w.layers.find((d) => d.size === 300_001)!;
    const path = w.cache.refPath(layer.digest);
    const good = JSON.parse(await readFile(path, 'utf8')) as { v: number; path: string; fileSize: number; mtimeMs: number; ranges: [number, number][] };
    const size = (await stat(w.output)).size;
    const last = good.ranges.length - 1;
    /** The good reference with its ranges (a copy) changed by `f`. */
    const withRanges = (f: (r: [number, number][]) => unknown): string => JSON.stringify({ ...good, ranges: f(good.ranges.map((r) => [...r] as [number, number])) });
    const setRange = (i: number, j: 0 | 1, v: number) => (r: [number, number][]): [number, number][] => {
      r[i]![j] = v;
      return r;
    };
    const cases: [string, string | Buffer][] = [
      ['garbage', 'not json at all {'],
      ['binary garbage', Buffer.from([0, 1, 2, 0xff, 0xfe])],
      ['empty', ''],
      ['JSON null', 'null'],
      ['an array', '[]'],
      // Well-formed JSON but over 4 MiB: refused by its size, before it is parsed.
      ['over 4 MiB', `${JSON.stringify(good)}${' '.repeat(4 << 20)}`],
      ['another version', JSON.stringify({ ...good, v: 2 })],
      // Relative to where this process runs, it names the bundle: refused all the same.
      ['a relative path', JSON.stringify({ ...good, path: relative(process.cwd(), w.output) })],
      ['a relative path from ./', JSON.stringify({ ...good, path: `./${relative(process.cwd(), w.output)}` })],
      ['no path', JSON.stringify({ ...good, path: undefined })],
      ['fileSize negative', JSON.stringify({ ...good, fileSize: -1 })],
      ['fileSize a string', JSON.stringify({ ...good, fileSize: String(good.fileSize) })],
      ['fileSize NaN (null in JSON)', JSON.stringify({ ...good, fileSize: Number.NaN })],
      ['fileSize another size', JSON.stringify({ ...good, fileSize: good.fileSize + 1 })],
      ['mtimeMs another time', JSON.stringify({ ...good, mtimeMs: good.mtimeMs + 1 })],
      ['mtimeMs missing', JSON.stringify({ ...good, mtimeMs: undefined })],
      ['ranges not an array', JSON.stringify({ ...good, ranges: {} })],
      ['a range of three numbers', withRanges((r) => [[...r[0]!, 0], ...r.slice(1)])],
      ['a negative offset', withRanges(setRange(0, 0, -1))],
      ['a fractional length', withRanges((r) => setRange(1, 1, r[1]![1] - 0.5)(setRange(0, 1, r[0]![1] + 0.5)(r)))],
      ['an offset past 2^53', withRanges(setRange(0, 0, 2 ** 53 + 2))],
      ['a NaN length (null)', withRanges(setRange(0, 1, Number.NaN))],
      ['ranges one short of the blob', withRanges((r) => setRange(last, 1, r[last]![1] - 1)(r))],
      ['a range dropped', withRanges((r) => r.slice(1))],
      ['a range too many', withRanges((r) => [...r, [0, 1]])],
      ['no ranges', withRanges(() => [])],
      ['the last range past the end of the file', withRanges((r) => setRange(last, 0, size - r[last]![1] + 1)(r))],
      ['a range at the very end, past it by its length', withRanges(setRange(last, 0, size))],
    ];
    for (const [what, doc] of cases) {
      await writeFile(path, doc);
      await assertStale(w.cache, layer, what);
    }
    // The reference as recorded still works in the same place (the cases above were refused for
    // what they are, not for where they were).
    await writeFile(path, JSON.stringify(good));
    await assertServed(w.cache, layer, 'the good reference');
    // A reference asked with another size than it covers is not served.
    await assertStale(w.cache, { ...layer, size: layer.size + 1 }, 'another descriptor size');
    // A reference named by a digest that is not one is not looked up at all (here it would name
    // a good reference outside refs/).
    await writeFile(join(w.cache.root, 'x.json'), JSON.stringify(good));
    await assertStale(w.cache, { ...layer, digest: 'sha256:../../x' as Digest }, 'not a digest');
  });

  it('bytes changed in place, size and mtime kept: the reference still answers, fetch fails the digest check and drops it', async (t) => {
    for (const form of ['tar', 'tar.zst'] as const) {
      const w = await written(t, form);
      await w.cache.recordBundle(w.output, form, w.layers);
      const layer = w.layers.find((d) => d.size === 300_001)!;
      await alterInPlace(w, layer);
      assert.equal(await w.cache.exists(layer), true, 'size and mtime are all a reference can check without reading');
      // fetch() verifies what a reference reads (callers need not hash it again) and drops it.
      await assertRejectsCode(bytesOf(await w.cache.fetch(layer)), 'DIGEST_MISMATCH');
      for (let i = 0; i < 50 && (await w.cache.exists(layer)); i++) await new Promise((r) => setTimeout(r, 10));
      await assertStale(w.cache, layer, `${form}: dropped by the failed read`);
      await assert.rejects(stat(w.cache.refPath(layer.digest)), { code: 'ENOENT' });
      await w.cache.dropReference(layer.digest); // twice: no error
      // The others are untouched.
      for (const d of w.layers.filter((x) => x.digest !== layer.digest)) await assertServed(w.cache, d, `${form}: another layer`);
    }
  });
});

describe('DownloadCache: files and references together', () => {
  it('a blob file of the cache is served before a reference; holdsFile() is true only for a file of the right size', async (t) => {
    const w = await written(t, 'tar.zst');
    await w.cache.recordBundle(w.output, 'tar.zst', w.layers);
    const layer = w.layers.find((d) => d.size === 300_001)!;
    const bytes = w.staged.blobs.get(layer.digest)!;
    assert.equal(await w.cache.holdsFile(layer), false);

    // A partial file (wrong size) is neither held nor served: the reference is.
    await writeFile(w.cache.blobPath(layer.digest), bytes.subarray(0, 1000));
    assert.equal(await w.cache.holdsFile(layer), false);
    assert.equal(await w.cache.exists(layer), true);
    assert.deepEqual(await consume(w.cache, layer), bytes);

    // A whole file wins over the reference, even one whose bundle bytes went wrong.
    await writeFile(w.cache.blobPath(layer.digest), bytes);
    await alterInPlace(w, layer);
    assert.equal(await w.cache.holdsFile(layer), true);
    assert.equal(await w.cache.exists(layer), true);
    assert.deepEqual(await consume(w.cache, layer), bytes);
    // With the bundle gone, the file is still there.
    await rm(w.output);
    assert.equal(await w.cache.exists(layer), true);
    assert.deepEqual(await consume(w.cache, layer), bytes);
    for (const d of w.layers.filter((x) => x.digest !== layer.digest)) await assertStale(w.cache, d, 'no file, bundle gone');
  });

  it('LayoutStore.linkFrom: from a reference, a verified copy; from a cache file, a hard link (same inode)', async (t) => {
    const w = await written(t, 'tar.zst');
    await w.cache.recordBundle(w.output, 'tar.zst', w.layers);
    const [byRef, byFile, altered] = [...w.layers].sort((a, b) => b.size - a.size);
    await writeFile(w.cache.blobPath(byFile!.digest), w.staged.blobs.get(byFile!.digest)!);
    await rm(w.cache.refPath(byFile!.digest));
    const stage = new LayoutStore(join(w.dir, 'stage'));

    await stage.linkFrom(w.cache, byRef!);
    assert.deepEqual(await readFile(stage.blobPath(byRef!.digest)), w.staged.blobs.get(byRef!.digest));
    const copied = await stat(stage.blobPath(byRef!.digest));
    assert.ok(copied.isFile());
    assert.equal(copied.nlink, 1, 'a copy of its own');
    assert.notEqual(copied.ino, (await stat(w.output)).ino);

    await stage.linkFrom(w.cache, byFile!);
    const [a, b] = await Promise.all([stat(stage.blobPath(byFile!.digest)), stat(w.cache.blobPath(byFile!.digest))]);
    assert.equal(a.ino, b.ino, 'linked, not copied');
    assert.equal(a.nlink, 2);

    // Again: present, nothing to do.
    await stage.linkFrom(w.cache, byRef!);
    await stage.linkFrom(w.cache, byFile!);

    // Through a reference whose bundle bytes went wrong: refused, nothing under the blob's name.
    await alterInPlace(w, altered!);
    await assertRejectsCode(stage.linkFrom(w.cache, altered!), 'DIGEST_MISMATCH');
    await assert.rejects(stat(stage.blobPath(altered!.digest)), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(stage.root, 'ingest')), [], 'no partial file left in ingest/');

    // Through a stale reference (bundle gone): NOT_FOUND.
    const other = w.layers.find((d) => ![byRef, byFile, altered].includes(d))!;
    await rm(w.output);
    await assertRejectsCode(stage.linkFrom(w.cache, other), 'NOT_FOUND');
    await assert.rejects(stat(stage.blobPath(other.digest)), { code: 'ENOENT' });
  });
});
