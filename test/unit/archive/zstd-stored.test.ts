import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createZstdCompressStream, createZstdDecompressStream, zstdCompressBound } from '../../../src/archive/index.js';
import { tempDir } from './temp.js';

/** Write `parts` through one compressor; parts flagged true are marked stored. */
async function mixed(parts: readonly [Buffer, boolean][]): Promise<Buffer> {
  const z = createZstdCompressStream({ level: 3 });
  const out: Buffer[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } });
  await pipeline(Readable.from(parts.map(([b, stored]) => (stored ? z.markStored(b) : b))), z, sink);
  return Buffer.concat(out);
}

async function decompress(data: Buffer, chunk = 777): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), createZstdDecompressStream(), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

describe('zstd stored (raw) frames', () => {
  const text = Buffer.from('a tar header, compressible '.repeat(40));
  const cases: [string, [Buffer, boolean][]][] = [
    ['stored only', [[randomBytes(300_000), true]]],
    ['compressed, stored, compressed', [[text, false], [randomBytes(200_000), true], [randomBytes(131_072), true], [text, false]]],
    ['stored last', [[text, false], [randomBytes(5), true]]],
    ['empty stored chunk between', [[text, false], [Buffer.alloc(0), true], [text, false]]],
    ['exactly one block', [[randomBytes(128 * 1024), true]]],
  ];
  for (const [name, parts] of cases) {
    it(`round-trips ${name} through our decoder and the zstd CLI, within the compress bound`, async (t) => {
      const whole = Buffer.concat(parts.map(([b]) => b));
      const z = await mixed(parts);
      assert.deepEqual(await decompress(z), whole);
      const dir = await tempDir(t);
      const file = join(dir, 'x.zst');
      await writeFile(file, z);
      assert.deepEqual(execFileSync('zstd', ['-q', '-d', '-c', file], { maxBuffer: 1 << 26 }), whole);
      assert.ok(z.length <= zstdCompressBound(whole.length) + 64, `${z.length} over the bound`);
    });
  }

  it('stores marked bytes as they are (no compression of compressible data when marked)', async () => {
    const zeros = Buffer.alloc(1 << 20);
    const z = await mixed([[zeros, true]]);
    assert.ok(z.length > zeros.length, 'stored, not compressed');
    assert.ok(z.subarray(6).includes(zeros.subarray(0, 4096)));
  });
});
