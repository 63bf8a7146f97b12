import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createZstdCompressStream, createZstdFileStream, readTarEntries } from '../../../src/archive/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './temp.js';

/** Compress `parts`; the ones listed in `stored` go out as raw frames, as the bundle writer does for layers. */
async function compress(parts: Buffer[], stored: ReadonlySet<number> = new Set()): Promise<Buffer> {
  const z = createZstdCompressStream();
  const out: Buffer[] = [];
  const marked = parts.map((p, i) => (stored.has(i) ? z.markStored(p) : p));
  await pipeline(Readable.from(marked), z, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

async function drain(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(r, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('createZstdFileStream (decompression on a worker thread)', () => {
  it('returns the same bytes as were compressed, compressed and stored frames mixed, and counts the file bytes', async (t) => {
    const dir = await tempDir(t);
    const parts = [randomBytes(300_000), Buffer.alloc(9_000_000, 7), randomBytes(5_000_000), Buffer.alloc(10, 1)];
    const z = await compress(parts, new Set([2]));
    await writeFile(join(dir, 'x.zst'), z);
    const s = createZstdFileStream(join(dir, 'x.zst'));
    assert.ok((await drain(s)).equals(Buffer.concat(parts)));
    assert.equal(s.bytesRead, z.length);
  });

  it('honours a slow consumer (backpressure) and still delivers every byte', async (t) => {
    const dir = await tempDir(t);
    const data = randomBytes(6_000_000);
    await writeFile(join(dir, 'x.zst'), await compress([data], new Set([0])));
    const s = createZstdFileStream(join(dir, 'x.zst'));
    const got: Buffer[] = [];
    for await (const c of s as AsyncIterable<Buffer>) {
      got.push(c);
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(Buffer.concat(got).equals(data));
  });

  it('refuses a truncated file and damaged input as BUNDLE_UNREADABLE', async (t) => {
    const dir = await tempDir(t);
    const z = await compress([randomBytes(400_000)]);
    await writeFile(join(dir, 'short.zst'), z.subarray(0, z.length - 100));
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'short.zst'))), 'BUNDLE_UNREADABLE');
    const bad = Buffer.from(z);
    bad.fill(0xff, 10, 2000);
    await writeFile(join(dir, 'bad.zst'), bad);
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'bad.zst'))), 'BUNDLE_UNREADABLE');
    // And through the tar reader, which is how bundles use it.
    await assertRejectsCode((async () => { for await (const e of readTarEntries(createZstdFileStream(join(dir, 'bad.zst')))) e.body.resume(); })(), 'BUNDLE_UNREADABLE');
  });

  it('refuses a frame whose window is above the limit', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'x.zst'), await compress([Buffer.alloc(2_000_000, 3)]));
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'x.zst'), { maxWindowLog: 10 })), 'BUNDLE_UNREADABLE');
  });

  it('reports a missing file with its errno code', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(drain(createZstdFileStream(join(dir, 'nope.zst'))), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  it('stops its worker when destroyed early (the process does not hang)', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'x.zst'), await compress([randomBytes(8_000_000)], new Set([0])));
    const s = createZstdFileStream(join(dir, 'x.zst'));
    for await (const c of s as AsyncIterable<Buffer>) {
      assert.ok(c.length > 0);
      break;
    }
    assert.ok(s.destroyed);
  });
});

describe('createZstdFileStream: the raw frames of stored layers, read straight into the slabs', () => {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
  const block = (type: number, size: number, last: boolean): Buffer => {
    const v = (size << 3) | (type << 1) | (last ? 1 : 0);
    return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
  };
  const rawFrame = (data: Buffer): Buffer => {
    const parts: Buffer[] = [header];
    for (let p = 0; p < data.length; p += 128 * 1024) {
      const part = data.subarray(p, p + 128 * 1024);
      parts.push(block(0, part.length, false), part);
    }
    parts.push(block(0, 0, true));
    return Buffer.concat(parts);
  };

  it('reads raw frames between compressed ones, across slab and read-buffer edges, as the zstd CLI does', async (t) => {
    const dir = await tempDir(t);
    const a = randomBytes(9 * 1024 * 1024 + 17);
    const b = randomBytes(1);
    const c = Buffer.alloc(3_000_000, 5);
    const file = Buffer.concat([await compress([c.subarray(0, 1000)]), rawFrame(a), rawFrame(b), await compress([c])]);
    await writeFile(join(dir, 'x.zst'), file);
    const whole = Buffer.concat([c.subarray(0, 1000), a, b, c]);
    const s = createZstdFileStream(join(dir, 'x.zst'));
    assert.ok((await drain(s)).equals(whole));
    assert.equal(s.bytesRead, file.length);
    assert.ok(execFileSync('zstd', ['-q', '-d', '-c', join(dir, 'x.zst')], { maxBuffer: 1 << 26 }).equals(whole));
  });

  it('a frame with that header but a non-raw block in it is decoded by zstd from its start, no byte twice', async (t) => {
    const dir = await tempDir(t);
    const a = randomBytes(300_000);
    // Raw blocks, then an RLE block (type 1: one byte, repeated 1000 times), last.
    const frame = Buffer.concat([header, block(0, 128 * 1024, false), a.subarray(0, 128 * 1024), block(0, a.length - 128 * 1024 - 100_000, false),
      a.subarray(128 * 1024, a.length - 100_000), block(1, 1000, true), Buffer.from([0x78])]);
    const tail = await compress([Buffer.from('after')]);
    await writeFile(join(dir, 'x.zst'), Buffer.concat([frame, tail]));
    const want = Buffer.concat([a.subarray(0, a.length - 100_000), Buffer.alloc(1000, 0x78), Buffer.from('after')]);
    assert.ok(execFileSync('zstd', ['-q', '-d', '-c', join(dir, 'x.zst')]).equals(want), 'the test frame is valid zstd');
    assert.ok((await drain(createZstdFileStream(join(dir, 'x.zst')))).equals(want));
  });

  it('refuses a raw frame cut short, and a raw block larger than the window, as BUNDLE_UNREADABLE', async (t) => {
    const dir = await tempDir(t);
    const f = rawFrame(randomBytes(400_000));
    await writeFile(join(dir, 'cut.zst'), f.subarray(0, f.length - 10));
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'cut.zst'))), 'BUNDLE_UNREADABLE');
    await writeFile(join(dir, 'no-end.zst'), f.subarray(0, f.length - 3));
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'no-end.zst'))), 'BUNDLE_UNREADABLE');
    await writeFile(join(dir, 'big.zst'), Buffer.concat([header, block(0, 128 * 1024 + 1, true), randomBytes(128 * 1024 + 1)]));
    await assertRejectsCode(drain(createZstdFileStream(join(dir, 'big.zst'))), 'BUNDLE_UNREADABLE');
  });
});
