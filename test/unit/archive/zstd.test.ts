import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import {
  createZstdCompressStream, createZstdDecompressStream, detectBundleForm, formatVolumeName, parseVolumeName, zstdCompressBound,
} from '../../../src/archive/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './temp.js';

async function compress(data: Buffer[], level = 3): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(data), createZstdCompressStream({ level }), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

async function decompress(data: Buffer, chunk = 1000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), createZstdDecompressStream(), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('zstd streams', () => {
  it('round-trip, write a frame checksum, and agree with the zstd CLI', async (t) => {
    const dir = await tempDir(t);
    const data = [randomBytes(300_000), Buffer.alloc(2_000_000, 7), randomBytes(10)];
    const z = await compress(data);
    // Frame header descriptor: bit 2 is Content_Checksum_flag (RFC 8878 §3.1.1.1.1).
    assert.equal((z[4]! >> 2) & 1, 1);
    assert.ok(z.length <= zstdCompressBound(2_300_010));
    assert.ok((await decompress(z)).equals(Buffer.concat(data)));
    await writeFile(join(dir, 'x.zst'), z);
    execFileSync('zstd', ['-t', '-q', join(dir, 'x.zst')]);
  });

  it('refuses a frame that asks for a huge window before allocating it', async () => {
    // Magic, frame header descriptor 0 (window descriptor present), window exponent 21 → 2^31, an empty raw last block.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00]);
    await assertRejectsCode(decompress(frame), 'BUNDLE_UNREADABLE');
  });

  it('refuses corrupt, truncated and non-zstd input', async () => {
    const z = await compress([randomBytes(200_000)]);
    const flipped = Buffer.from(z);
    flipped[Math.floor(z.length / 2)]! ^= 0xff;
    await assertRejectsCode(decompress(flipped), 'BUNDLE_UNREADABLE');
    await assertRejectsCode(decompress(z.subarray(0, z.length - 100)), 'BUNDLE_UNREADABLE');
    await assertRejectsCode(decompress(randomBytes(5000)), 'BUNDLE_UNREADABLE');
    // The checksum catches a change the block decoder cannot see: damage the last 4 bytes.
    const badSum = Buffer.from(z);
    badSum[badSum.length - 1]! ^= 0x01;
    await assertRejectsCode(decompress(badSum), 'BUNDLE_UNREADABLE');
  });

  it('produces output only as fast as it is read (a bomb cannot fill memory)', async () => {
    const z = await compress([Buffer.alloc(64 << 20)], 1);
    assert.ok(z.length < 64 * 1024);
    const d = createZstdDecompressStream();
    d.end(z);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(d.readableLength <= 2 << 20, `buffered ${d.readableLength}`);
    let total = 0;
    for await (const c of d as AsyncIterable<Buffer>) total += c.length;
    assert.equal(total, 64 << 20);
  });
});

describe('detectBundleForm', () => {
  it('tells directories, tar and zstd apart by content, not name', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'a.tar.zst'), Buffer.alloc(1024));
    execFileSync('tar', ['-cf', join(dir, 'really-a-tar.zst'), '-C', dir, 'd']);
    await writeFile(join(dir, 'z.tar'), await compress([Buffer.from('hello')]));
    assert.equal(await detectBundleForm(join(dir, 'd')), 'dir');
    assert.equal(await detectBundleForm(join(dir, 'really-a-tar.zst')), 'tar');
    assert.equal(await detectBundleForm(join(dir, 'z.tar')), 'tar.zst');
    await assertRejectsCode(detectBundleForm(join(dir, 'a.tar.zst')), 'BUNDLE_UNREADABLE');
    await assertRejectsCode(detectBundleForm(join(dir, 'absent')), 'BUNDLE_UNREADABLE');
  });
});

describe('volume names', () => {
  it('parse and format', () => {
    assert.deepEqual(parseVolumeName('/x/out.vol003.tar.zst'), { base: 'out', number: 3, form: 'tar.zst' });
    assert.deepEqual(parseVolumeName('a.b.vol1200.tar'), { base: 'a.b', number: 1200, form: 'tar' });
    assert.equal(parseVolumeName('out.vol03.tar.zst'), undefined);
    assert.equal(parseVolumeName('out.vol000.tar'), undefined);
    assert.equal(parseVolumeName('out.tar.zst'), undefined);
    assert.equal(formatVolumeName('out', 7, 12, 'tar.zst'), 'out.vol007.tar.zst');
    assert.equal(formatVolumeName('out', 7, 1200, 'tar'), 'out.vol0007.tar');
  });
});
