import assert from 'node:assert/strict';
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
