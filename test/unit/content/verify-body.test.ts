import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { readFileRanges } from '../../../src/archive/index.js';
import { isVerifiedFor, verifyBody, verifyStream } from '../../../src/content/index.js';
import { DigestMismatchError, SizeMismatchError } from '../../../src/errors.js';
import type { Digest } from '../../../src/oci/index.js';
import { CHUNKS, chunksOf, POOL_CHUNK } from '../../../src/util/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from '../archive/temp.js';

const MIB = 1024 * 1024;
const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

/** A file holding `data`, read back through the range reader (a body that offers its chunks straight). */
async function rangeBody(t: Parameters<typeof tempDir>[0], data: Buffer): Promise<{ path: string; open: () => Readable }> {
  const path = join(await tempDir(t), 'blob');
  await writeFile(path, data);
  return { path, open: () => readFileRanges(path, [{ offset: 0, length: data.length }]) };
}

/** Take the chunks straight, as an upload does. */
async function take(body: Readable): Promise<Buffer[]> {
  const c = chunksOf(body);
  assert.ok(c, 'the body offers its chunks');
  const out: Buffer[] = [];
  const it = c[CHUNKS]();
  for (let r = await it.next(); !r.done; r = await it.next()) out.push(r.value);
  return out;
}

async function read(body: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of body) out.push(c as Buffer);
  return out;
}

/** The error verifyStream gives for the same bytes: verifyBody must give the same. */
async function streamError(data: Buffer, desc: { digest: Digest; size: number }): Promise<unknown> {
  try {
    await pipeline(Readable.from([data]), verifyStream(desc, { where: 'w' }), async function* (src: AsyncIterable<Buffer>) {
      for await (const _ of src);
    });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('readFileRanges: chunks taken straight', () => {
  it('are the chunks the stream would give, and the stream is closed at the end', async (t) => {
    const data = randomBytes(2 * MIB + 777);
    const { open } = await rangeBody(t, data);
    const body = open();
    const chunks = await take(body);
    assert.deepEqual(chunks.map((c) => c.length), [MIB, MIB, 777]);
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.deepEqual(Buffer.concat(await read(open())), data);
    assert.ok(body.destroyed, 'the file is closed');
  });

  it('an error is thrown at the taker (no error event needed), and an early return closes the file', async (t) => {
    const data = randomBytes(3 * MIB);
    const { path } = await rangeBody(t, data);
    const bad = readFileRanges(path, [{ offset: 0, length: MIB }, { offset: data.length, length: 1 }]);
    await assertRejectsCode(take(bad), 'BUNDLE_UNREADABLE');
    assert.ok(bad.destroyed);

    const body = readFileRanges(path, [{ offset: 0, length: data.length }]);
    const it = chunksOf(body)![CHUNKS]();
    assert.equal((await it.next()).value?.length, MIB);
    await it.return?.();
    assert.ok(body.destroyed);
  });
});

describe('verifyBody', () => {
  it('a body that offers its chunks: the same chunks, checked, offered straight again, and read as a stream alike', async (t) => {
    const data = randomBytes(2 * MIB + 5);
    const desc = { digest: sha(data), size: data.length };
    const { open } = await rangeBody(t, data);
    let progress = 0;
    const v = verifyBody(open(), desc, { onProgress: (n) => (progress += n) });
    assert.ok(isVerifiedFor(v, desc));
    const chunks = await take(v);
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.equal(progress, data.length);
    assert.ok(chunks.every((c) => c.length <= POOL_CHUNK));
    assert.deepEqual(Buffer.concat(await read(verifyBody(open(), desc))), data);
  });

  it('any other body is piped through verifyStream: no chunks offered', async () => {
    const data = Buffer.from('hello');
    const v = verifyBody(Readable.from([data]), { digest: sha(data), size: data.length });
    assert.equal(chunksOf(v), undefined);
    assert.deepEqual(Buffer.concat(await read(v)), data);
  });

  it('a damaged byte fails with DIGEST_MISMATCH, the same error as verifyStream, and the last chunk is never handed on', async (t) => {
    const data = randomBytes(2 * MIB + 100);
    const desc = { digest: sha(data), size: data.length };
    const bad = Buffer.from(data);
    bad[bad.length - 50]! ^= 0xff;
    const { open } = await rangeBody(t, bad);
    const got: Buffer[] = [];
    const it = chunksOf(verifyBody(open(), desc, { where: 'w' }))![CHUNKS]();
    const err = await assertRejectsCode(async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value);
    }, 'DIGEST_MISMATCH');
    assert.ok(err instanceof DigestMismatchError);
    assert.deepEqual(got.map((c) => c.length), [MIB, MIB], 'the chunk that completes the blob is held back');
    const expected = await streamError(bad, desc);
    assert.ok(expected instanceof DigestMismatchError);
    assert.deepEqual({ m: err.message, a: err.actual, b: err.bytesRead, w: err.where, h: err.hint }, { m: expected.message, a: expected.actual, b: expected.bytesRead, w: expected.where, h: expected.hint });
    // Read as a stream: the same error.
    await assertRejectsCode(read(verifyBody(open(), desc)), 'DIGEST_MISMATCH');
  });

  it('too many bytes fail SIZE_MISMATCH as soon as they arrive; too few at the end', async (t) => {
    const data = randomBytes(MIB + 10);
    const { open } = await rangeBody(t, data);
    const long = await assertRejectsCode(take(verifyBody(open(), { digest: sha(data.subarray(0, MIB)), size: MIB })), 'SIZE_MISMATCH');
    assert.ok(long instanceof SizeMismatchError);
    assert.equal((long as SizeMismatchError).message, ((await streamError(data, { digest: sha(data.subarray(0, MIB)), size: MIB })) as Error).message);
    const short = await assertRejectsCode(take(verifyBody(open(), { digest: sha(data), size: data.length + 1 })), 'SIZE_MISMATCH');
    assert.equal(short.message, ((await streamError(data, { digest: sha(data), size: data.length + 1 })) as Error).message);
    // The exact size with the right digest passes.
    assert.deepEqual(Buffer.concat(await take(verifyBody(open(), { digest: sha(data), size: data.length }))), data);
  });

  it('destroying the verified body closes the source', async (t) => {
    const data = randomBytes(3 * MIB);
    const { open } = await rangeBody(t, data);
    const src = open();
    const v = verifyBody(src, { digest: sha(data), size: data.length });
    const it = chunksOf(v)![CHUNKS]();
    await it.next();
    v.destroy();
    await new Promise((r) => setImmediate(r));
    assert.ok(src.destroyed);
  });
});
