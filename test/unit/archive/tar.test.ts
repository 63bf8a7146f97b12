import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Header, Pax } from 'tar';
import { createTarWriter, indexTar, readTarEntries, tarEntryBytes, TAR_END_BYTES } from '../../../src/archive/index.js';
import { encodeFileHeader } from '../../../src/archive/tar-header.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './temp.js';

/** Collect a writer's output in memory. */
function memorySink(): { out: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const out = new Writable({ highWaterMark: 16 * 1024, write(c: Buffer, _e, cb) { chunks.push(c); setImmediate(cb); } });
  return { out, data: () => Buffer.concat(chunks) };
}

async function makeTar(entries: readonly { path: string; body: Buffer }[]): Promise<Buffer> {
  const sink = memorySink();
  const w = createTarWriter(sink.out);
  for (const e of entries) await w.addEntry(e.path, e.body.length, e.body);
  await w.finish();
  return sink.data();
}

async function readAll(tar: Buffer, chunk = 4096): Promise<{ path: string; body: Buffer }[]> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) pieces.push(tar.subarray(i, i + chunk));
  const out: { path: string; body: Buffer }[] = [];
  for await (const e of readTarEntries(Readable.from(pieces))) {
    const parts: Buffer[] = [];
    for await (const c of e.body as AsyncIterable<Buffer>) parts.push(c);
    out.push({ path: e.path, body: Buffer.concat(parts) });
  }
  return out;
}

/** A raw header block of any type, built with node-tar's Header. */
function rawHeader(path: string, type: string, size = 0, linkpath?: string): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type: type as never, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...(linkpath ? { linkpath } : {}) }).encode(block, 0);
  return block;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

const END = Buffer.alloc(1024);

describe('createTarWriter', () => {
  it('writes entries in call order that GNU tar lists, with deterministic headers', async (t) => {
    const dir = await tempDir(t);
    const entries = [
      { path: 'airlock.json', body: Buffer.from('{}') },
      { path: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { path: `blobs/sha256/${'a'.repeat(64)}`, body: randomBytes(70_000) },
      { path: 'empty', body: Buffer.alloc(0) },
      { path: `pieces/sha256/${'b'.repeat(64)}/1234567890123`, body: randomBytes(512) },
      { path: `long/${'x'.repeat(150)}/name`, body: randomBytes(10) },
    ];
    const tar = await makeTar(entries);
    assert.equal(tar.length, entries.reduce((n, e) => n + tarEntryBytes(e.path, e.body.length), TAR_END_BYTES));
    assert.deepEqual(await makeTar(entries.map((e) => ({ ...e }))), tar, 'same input, same bytes');
    const file = join(dir, 'x.tar');
    await writeFile(file, tar);
    const listed = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listed.map((l) => l.split(/\s+/).slice(5).join(' ')), entries.map((e) => e.path));
    for (const l of listed) assert.match(l, /^-rw-r--r-- 0\/0 /);
    const back = await readAll(tar, 777);
    assert.deepEqual(back.map((e) => e.path), entries.map((e) => e.path));
    back.forEach((e, i) => assert.ok(e.body.equals(entries[i]!.body)));
  });

  it('fails when a body delivers fewer or more bytes than declared', async () => {
    const w1 = createTarWriter(memorySink().out);
    await assertRejectsCode(w1.addEntry('a', 10, Readable.from([Buffer.alloc(5)])), 'SIZE_MISMATCH');
    const w2 = createTarWriter(memorySink().out);
    await assertRejectsCode(w2.addEntry('a', 10, Readable.from([Buffer.alloc(6), Buffer.alloc(6)])), 'SIZE_MISMATCH');
    const w3 = createTarWriter(memorySink().out);
    await assertRejectsCode(w3.addEntry('a', 10, Buffer.alloc(3)), 'SIZE_MISMATCH');
  });

  it('respects backpressure: never more than a few chunks buffered in the output', async () => {
    let maxBuffered = 0;
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    const w = createTarWriter(out);
    const big = Readable.from((function* () { for (let i = 0; i < 64; i++) yield randomBytes(64 * 1024); })());
    const drain = (async () => {
      for await (const _c of out) {
        maxBuffered = Math.max(maxBuffered, out.writableLength + out.readableLength);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await w.addEntry('big', 64 * 64 * 1024, big);
    await w.finish();
    await drain;
    assert.ok(maxBuffered <= 4 * 64 * 1024, `buffered ${maxBuffered}`);
  });
});

describe('readTarEntries', () => {
  it('reads what GNU tar writes (directories skipped, ./ prefixes normalised)', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    execFileSync('mkdir', ['-p', join(src, 'blobs', 'sha256')]);
    await writeFile(join(src, 'airlock.json'), '{"a":1}');
    await writeFile(join(src, 'blobs', 'sha256', 'f'), randomBytes(3000));
    execFileSync('tar', ['-cf', join(dir, 'g.tar'), '-C', src, '.']);
    const { readFile } = await import('node:fs/promises');
    const got = await readAll(await readFile(join(dir, 'g.tar')));
    assert.deepEqual(got.map((e) => e.path).sort(), ['airlock.json', 'blobs/sha256/f']);
  });

  it('reads a long name with a directory part as written (pax path plus ustar prefix), not with the prefix twice', async () => {
    const path = `deep/${'n'.repeat(150)}`;
    const tar = Buffer.concat([encodeFileHeader(path, 2), Buffer.from('hi'), Buffer.alloc(510), Buffer.alloc(1024)]);
    const got: string[] = [];
    for await (const e of readTarEntries(Readable.from([tar]))) {
      got.push(e.path);
      e.body.resume();
    }
    assert.deepEqual(got, [path]);
  });

  it('reads pax long paths', async () => {
    const long = `a/${'p'.repeat(200)}`;
    const body = randomBytes(100);
    const pax = new Pax({ path: long, size: body.length }).encode();
    const tar = Buffer.concat([pax, rawHeader('short', 'File', body.length), body, pad(body.length), END]);
    const got = await readAll(tar);
    assert.equal(got[0]?.path, long);
  });

  it('skips bodies the consumer leaves alone', async () => {
    const tar = await makeTar([{ path: 'a', body: randomBytes(5000) }, { path: 'b', body: Buffer.from('bee') }]);
    const paths: string[] = [];
    let last = '';
    for await (const e of readTarEntries(Readable.from([tar]))) {
      paths.push(e.path);
      if (e.path === 'b') for await (const c of e.body as AsyncIterable<Buffer>) last += c.toString();
    }
    assert.deepEqual(paths, ['a', 'b']);
    assert.equal(last, 'bee');
  });

  const hostile: [string, () => Buffer, string][] = [
    ['a ../ path', () => Buffer.concat([rawHeader('../evil', 'File', 1), Buffer.from('x'), pad(1), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a nested .. path', () => Buffer.concat([rawHeader('blobs/../../evil', 'File', 0), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['an absolute path', () => Buffer.concat([rawHeader('/etc/passwd', 'File', 0), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a pax path with ..', () => Buffer.concat([new Pax({ path: '../../x' }).encode(), rawHeader('ok', 'File', 0), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a symlink', () => Buffer.concat([rawHeader('link', 'SymbolicLink', 0, '/etc'), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a hard link', () => Buffer.concat([rawHeader('hard', 'Link', 0, 'airlock.json'), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a character device', () => Buffer.concat([rawHeader('dev', 'CharacterDevice', 0), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a FIFO', () => Buffer.concat([rawHeader('fifo', 'FIFO', 0), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['a duplicate entry with other bytes', () => Buffer.concat([rawHeader('a', 'File', 1), Buffer.from('x'), pad(1), rawHeader('./a', 'File', 1), Buffer.from('y'), pad(1), END]), 'UNSAFE_ARCHIVE_ENTRY'],
    ['garbage', () => randomBytes(4096), 'BUNDLE_UNREADABLE'],
    ['an archive with no end marker', () => Buffer.concat([rawHeader('a', 'File', 1), Buffer.from('x'), pad(1)]), 'BUNDLE_UNREADABLE'],
    ['an empty input', () => Buffer.alloc(0), 'BUNDLE_UNREADABLE'],
    ['a bad header checksum', () => { const b = Buffer.concat([rawHeader('a', 'File', 0), END]); b[0] = 0x62; return b; }, 'BUNDLE_UNREADABLE'],
  ];
  for (const [what, make, code] of hostile) {
    it(`refuses ${what} with ${code}`, async () => {
      await assertRejectsCode(readAll(make()), code as 'UNSAFE_ARCHIVE_ENTRY');
    });
  }

  it('reports truncation at every kind of offset as BUNDLE_UNREADABLE, never as a clean end', async () => {
    const tar = await makeTar([{ path: 'a', body: randomBytes(1000) }, { path: 'b', body: randomBytes(3000) }]);
    // inside a header, inside a body, at a padding boundary, exactly between entries, inside the end marker's first block
    for (const cut of [100, 512, 700, 1024, 1536, 1536 + 512 + 1000, tar.length - 1024]) {
      await assertRejectsCode(readAll(tar.subarray(0, cut)), 'BUNDLE_UNREADABLE');
    }
  });

  it('surfaces a truncated body as an error on the body stream itself', async () => {
    const tar = await makeTar([{ path: 'a', body: randomBytes(100_000) }]);
    const it = readTarEntries(Readable.from([tar.subarray(0, 50_000)]));
    const first = await it.next();
    assert.ok(!first.done);
    await assertRejectsCode(async () => { for await (const _c of first.value.body) { /* drain */ } }, 'BUNDLE_UNREADABLE');
    await assertRejectsCode(it.next(), 'BUNDLE_UNREADABLE');
  });

  it('stops reading at the end-of-archive marker', async () => {
    const tar = await makeTar([{ path: 'a', body: Buffer.from('x') }]);
    const got = await readAll(Buffer.concat([tar, randomBytes(2048)]));
    assert.deepEqual(got.map((e) => e.path), ['a']);
  });
});

describe('indexTar', () => {
  it('maps entries to byte ranges of the file', async (t) => {
    const dir = await tempDir(t);
    const entries = [{ path: 'x', body: randomBytes(1234) }, { path: 'y/z', body: randomBytes(100_000) }, { path: 'e', body: Buffer.alloc(0) }];
    const tar = await makeTar(entries);
    const file = join(dir, 'i.tar');
    await writeFile(file, tar);
    const index = await indexTar(file);
    assert.deepEqual([...index.keys()], ['x', 'y/z', 'e']);
    for (const e of entries) {
      const loc = index.get(e.path)!;
      assert.ok(tar.subarray(loc.offset, loc.offset + loc.size).equals(e.body));
    }
  });

  it('refuses truncated and hostile files', async (t) => {
    const dir = await tempDir(t);
    const tar = await makeTar([{ path: 'x', body: randomBytes(5000) }]);
    await writeFile(join(dir, 't.tar'), tar.subarray(0, 3000));
    await assertRejectsCode(indexTar(join(dir, 't.tar')), 'BUNDLE_UNREADABLE');
    await writeFile(join(dir, 'n.tar'), tar.subarray(0, tar.length - 1024));
    await assertRejectsCode(indexTar(join(dir, 'n.tar')), 'BUNDLE_UNREADABLE');
    await writeFile(join(dir, 's.tar'), Buffer.concat([rawHeader('s', 'SymbolicLink', 0, '/'), END]));
    await assertRejectsCode(indexTar(join(dir, 's.tar')), 'UNSAFE_ARCHIVE_ENTRY');
  });
});
