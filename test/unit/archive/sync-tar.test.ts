import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { Header, Pax } from 'tar';
import { createTarWriter, createZstdCompressStream, createZstdDecompressStream, readTarEntries } from '../../../src/archive/index.js';
import { SyncTarFile, type SyncTarOptions } from '../../../src/archive/sync-tar.js';
import { encodeFileHeader, paddingOf, TAR_END_BYTES } from '../../../src/archive/tar-header.js';
import { RAW_FRAME_HEADER, compressFrame } from '../../../src/archive/zstd.js';
import { AirlockError } from '../../../src/errors.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';
import { rawFrame, skippable, tarOf } from './frames.js';
import { tempDir } from './temp.js';

type Form = 'tar' | 'tar.zst';
type Entries = [string, Buffer][];

/** Every entry, read whole with SyncTarFile; the buffers are all held to the end (none may be reused). */
function syncEntries(file: string, form: Form, opts?: SyncTarOptions): Entries {
  const f = new SyncTarFile(file, form, opts);
  try {
    const out: Entries = [];
    for (let e = f.next(); e; e = f.next()) {
      const data = f.read();
      assert.equal(data.length, e.size, `${e.path}: read() gives size bytes`);
      out.push([e.path, data]);
    }
    assert.equal(f.next(), undefined, 'next() after the end stays undefined');
    return out;
  } finally {
    f.close();
  }
}

/** Every entry as the streaming reader (the reference) sees it, .tar.zst decompressed as reader.ts does. */
async function streamedEntries(file: string, form: Form): Promise<Entries> {
  const raw = createReadStream(file);
  const input = form === 'tar.zst' ? pipeline(raw, createZstdDecompressStream({ where: file }), () => {}) : raw;
  const out: Entries = [];
  for await (const e of readTarEntries(input, { where: file })) {
    const parts: Buffer[] = [];
    for await (const c of e.body as AsyncIterable<Buffer>) parts.push(c);
    out.push([e.path, Buffer.concat(parts)]);
  }
  return out;
}

function assertSameEntries(got: Entries, want: Entries, what: string): void {
  assert.deepEqual(got.map(([p, d]) => [p, d.length]), want.map(([p, d]) => [p, d.length]), `${what}: paths and sizes`);
  got.forEach(([p, d], i) => assert.ok(d.equals(want[i]![1]), `${what}: bytes of ${p}`));
}

/** Read `file` both ways and check they agree; returns the entries. */
async function checkAgainstStreaming(file: string, form: Form): Promise<Entries> {
  const want = await streamedEntries(file, form);
  const got = syncEntries(file, form);
  assertSameEntries(got, want, file);
  return got;
}


/** A raw header block of any type, built with node-tar's Header. */
function rawHeader(path: string, type: string, size = 0, linkpath?: string): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type: type as never, size, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...(linkpath ? { linkpath } : {}) }).encode(block, 0);
  return block;
}



/** Entries of many sizes: empty, one block exactly, odd, several 128 KiB reads long, a long name with a directory part. */
function variedEntries(): Entries {
  return [
    ['airlock.json', Buffer.from('{"version":1}\n')],
    ['empty', Buffer.alloc(0)],
    ['exact-block', randomBytes(512)],
    [`blobs/sha256/${'a'.repeat(64)}`, randomBytes(70_000)],
    ['odd', Buffer.from('x'.repeat(1001))],
    [`blobs/sha256/${'b'.repeat(64)}`, randomBytes(300_000)],
    [`deep/dir/${'n'.repeat(150)}`, randomBytes(77)],
    ['text', Buffer.from('compressible text '.repeat(2000))],
  ];
}

/** Write `entries` with the project's tar writer, through the zstd stream when `form` is tar.zst; `stored` entries go out as raw frames (markStored), as airlock writes layers. */
async function writeWithWriter(file: string, form: Form, entries: Entries, stored: (path: string) => boolean = () => false): Promise<void> {
  if (form === 'tar') {
    const out = createWriteStream(file);
    const w = createTarWriter(out);
    for (const [path, data] of entries) await w.addEntry(path, data.length, data);
    await w.finish();
    return;
  }
  const z = createZstdCompressStream();
  const done = pipelineAsync(z, createWriteStream(file));
  const w = createTarWriter(z);
  for (const [path, data] of entries) await w.addEntry(path, data.length, stored(path) && data.length > 0 ? z.markStored(data) : data);
  await w.finish();
  await done;
}

describe('SyncTarFile', () => {
  it('a plain tar from the project\'s writer: the same entries and bytes as the streaming reader', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar');
    const entries = variedEntries();
    await writeWithWriter(file, 'tar', entries);
    const got = await checkAgainstStreaming(file, 'tar');
    assertSameEntries(got, entries, 'as written');
  });

  it('a .tar.zst in one frame from the zstd CLI: the same entries and bytes as the streaming reader', async (t) => {
    const dir = await tempDir(t);
    const entries = variedEntries();
    const tar = join(dir, 'x.tar');
    await writeWithWriter(tar, 'tar', entries);
    execFileSync('zstd', ['-q', '-19', tar, '-o', join(dir, 'x.tar.zst')]);
    const got = await checkAgainstStreaming(join(dir, 'x.tar.zst'), 'tar.zst');
    assertSameEntries(got, entries, 'as written');
  });

  it('a multi-frame .tar.zst as airlock writes it (compressed frames, layers in raw frames): the same as the streaming reader', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.zst');
    const entries = variedEntries();
    await writeWithWriter(file, 'tar.zst', entries, (p) => p.startsWith('blobs/') || p === 'exact-block');
    const bytes = await readFile(file);
    assert.ok(bytes.indexOf(RAW_FRAME_HEADER) > 0, 'a raw frame after a compressed one');
    const got = await checkAgainstStreaming(file, 'tar.zst');
    assertSameEntries(got, entries, 'as written');
  });

  it('a tar cut into frames at arbitrary points (a header across a frame boundary), with skippable frames and small raw blocks', async (t) => {
    const dir = await tempDir(t);
    const entries: Entries = [['a', Buffer.from('first')], ['b', randomBytes(3000)], ['c', Buffer.from('third')], ['d', randomBytes(200_000)]];
    const tar = tarOf(entries);
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, Buffer.concat([
      skippable(Buffer.from('at the front')),
      compressFrame(tar.subarray(0, 700), 3),
      skippable(Buffer.alloc(0)),
      compressFrame(tar.subarray(700, 3800), 1),
      rawFrame(tar.subarray(3800, 5000), 100),
      rawFrame(tar.subarray(5000, 150_000)),
      compressFrame(tar.subarray(150_000), 3),
    ]));
    const got = await checkAgainstStreaming(file, 'tar.zst');
    assertSameEntries(got, entries, 'as written');
  });

  it('what GNU tar writes (gnu and pax formats): directories skipped, ./ prefixes normalised, GNU long names and pax paths applied', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    const longDir = join(src, 'blobs', 'd'.repeat(60), 'e'.repeat(60));
    await mkdir(longDir, { recursive: true });
    await writeFile(join(src, 'airlock.json'), '{"a":1}');
    await writeFile(join(longDir, 'f'.repeat(90)), randomBytes(3000));
    await writeFile(join(src, 'blobs', 'small'), 'small');
    const want = ['airlock.json', `blobs/${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}`, 'blobs/small'];
    for (const format of ['gnu', 'pax']) {
      const file = join(dir, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, '.']);
      const got = await checkAgainstStreaming(file, 'tar');
      assert.deepEqual(got.map(([p]) => p).sort(), want, format);
      execFileSync('zstd', ['-q', file, '-o', `${file}.zst`]);
      assert.deepEqual((await checkAgainstStreaming(`${file}.zst`, 'tar.zst')).map(([p]) => p).sort(), want, `${format}.zst`);
    }
  });

  it('a long (pax) name with a directory part comes back as written, not with its ustar prefix twice; global pax headers are skipped', async (t) => {
    const dir = await tempDir(t);
    const long = `deep/${'n'.repeat(150)}`;
    const deeper = `a/b/c/${'x'.repeat(120)}/file`;
    const paxOnly = `p/${'q'.repeat(200)}`;
    const body = randomBytes(100);
    const globalBody = Buffer.from('19 comment=ignored\n');
    const globalPax = Buffer.concat([rawHeader('pax_global_header', 'GlobalExtendedHeader', globalBody.length), globalBody, Buffer.alloc(paddingOf(globalBody.length))]);
    const tar = Buffer.concat([
      globalPax,
      encodeFileHeader(long, 2), Buffer.from('hi'), Buffer.alloc(510),
      encodeFileHeader(deeper, 0),
      // A pax path over a short ustar name, as other writers do.
      new Pax({ path: paxOnly, size: body.length }).encode(), rawHeader('short', 'File', body.length), body, Buffer.alloc(paddingOf(body.length)),
      Buffer.alloc(TAR_END_BYTES),
    ]);
    for (const form of ['tar', 'tar.zst'] as const) {
      const file = join(dir, `x.${form}`);
      await writeFile(file, form === 'tar' ? tar : compressFrame(tar, 3));
      const got = await checkAgainstStreaming(file, form);
      assert.deepEqual(got.map(([p]) => p), [long, deeper, paxOnly], form);
      assert.equal(got[0]![1].toString(), 'hi');
      assert.ok(got[2]![1].equals(body));
    }
  });

  it('skips bodies left unread, whole or after other entries were read', async (t) => {
    const dir = await tempDir(t);
    const a = randomBytes(5000);
    const b = randomBytes(300_000); // several reads / decoded chunks long
    const entries: Entries = [['a', a], ['b', b], ['empty', Buffer.alloc(0)], ['c', Buffer.from('see')], ['d', randomBytes(1000)]];
    for (const form of ['tar', 'tar.zst'] as const) {
      const file = join(dir, `x.${form}`);
      await writeWithWriter(file, form, entries, (p) => p === 'b');
      const f = new SyncTarFile(file, form);
      try {
        assert.deepEqual(f.next(), { path: 'a', size: a.length });
        assert.deepEqual(f.next(), { path: 'b', size: b.length }, `${form}: a skipped`);
        assert.deepEqual(f.next(), { path: 'empty', size: 0 }, `${form}: b skipped`);
        assert.equal(f.read().length, 0);
        assert.deepEqual(f.next(), { path: 'c', size: 3 });
        assert.equal(f.read().toString(), 'see');
        assert.deepEqual(f.next(), { path: 'd', size: 1000 });
        assert.equal(f.next(), undefined, `${form}: d skipped up to the end marker`);
        assert.equal(f.next(), undefined);
      } finally {
        f.close();
      }
      // Read only the large one, leave the rest.
      const g = new SyncTarFile(file, form);
      try {
        g.next();
        assert.equal(g.next()?.path, 'b');
        assert.ok(g.read().equals(b), `${form}: b read after a was skipped`);
        assert.equal(g.next()?.path, 'empty');
      } finally {
        g.close();
      }
    }
  });

  it('an empty archive (only the end marker) has no entries', async (t) => {
    const dir = await tempDir(t);
    for (const form of ['tar', 'tar.zst'] as const) {
      const file = join(dir, `x.${form}`);
      const tar = Buffer.alloc(TAR_END_BYTES);
      await writeFile(file, form === 'tar' ? tar : compressFrame(tar, 3));
      assert.deepEqual(syncEntries(file, form), []);
    }
  });

  describe('a truncated file is BUNDLE_INCOMPLETE, never a clean end', () => {
    /** Reading every entry (bodies read, or only skipped) fails with BUNDLE_INCOMPLETE naming the file. */
    function assertIncomplete(file: string, form: Form, what: string): void {
      for (const readBodies of [true, false]) {
        const f = new SyncTarFile(file, form);
        try {
          const err = assertThrowsCode(() => {
            for (let e = f.next(); e; e = f.next()) if (readBodies) f.read();
          }, 'BUNDLE_INCOMPLETE');
          assert.ok(err.where?.startsWith(`${file} at byte `), `${what}: where ${err.where}`);
        } finally {
          f.close();
        }
      }
    }

    it('a plain tar cut in a header, in a body, at a padding boundary, between entries and before the end marker; an empty file', async (t) => {
      const dir = await tempDir(t);
      const tar = tarOf([['a', randomBytes(1000)], ['b', randomBytes(300_000)]]);
      // b's body starts at 1536 + 512 = 2048 and ends at 302048.
      for (const cut of [0, 100, 512, 700, 1024, 1536, 1536 + 300, 2048 + 200_000, tar.length - TAR_END_BYTES]) {
        const file = join(dir, `cut-${cut}.tar`);
        await writeFile(file, tar.subarray(0, cut));
        assertIncomplete(file, 'tar', `cut at ${cut}`);
      }
    });

    it('a .tar.zst cut inside a compressed frame, inside a raw frame, and at a frame boundary before the end marker', async (t) => {
      const dir = await tempDir(t);
      const tar = tarOf([['a', randomBytes(1000)], ['b', randomBytes(300_000)]]);
      const head = compressFrame(tar.subarray(0, 2048), 3);
      const raw = rawFrame(tar.subarray(2048, 2048 + 300_000));
      const tail = compressFrame(tar.subarray(2048 + 300_000), 3);
      const whole = compressFrame(tar, 3);
      const cases: [string, Buffer][] = [
        ['inside the only compressed frame', whole.subarray(0, Math.floor(whole.length / 2))],
        ['inside the first frame', head.subarray(0, head.length - 10)],
        ['inside a raw frame', Buffer.concat([head, raw.subarray(0, 150_000)])],
        ['inside a raw block header', Buffer.concat([head, raw.subarray(0, RAW_FRAME_HEADER.length + 1)])],
        ['at a frame boundary, before the end marker', Buffer.concat([head, raw])],
        ['inside the last frame', Buffer.concat([head, raw, tail.subarray(0, 6)])],
        ['an empty file', Buffer.alloc(0)],
      ];
      assert.equal(syncEntries(await (async () => {
        const f = join(dir, 'whole.tar.zst');
        await writeFile(f, Buffer.concat([head, raw, tail]));
        return f;
      })(), 'tar.zst').length, 2, 'the uncut file is whole');
      for (const [what, bytes] of cases) {
        const file = join(dir, `${what.replace(/\W+/g, '-')}.tar.zst`);
        await writeFile(file, bytes);
        assertIncomplete(file, 'tar.zst', what);
      }
    });
  });

  it('a damaged zstd stream is BUNDLE_UNREADABLE', async (t) => {
    const dir = await tempDir(t);
    const tar = tarOf([['a', Buffer.from('x'.repeat(3000))], ['b', randomBytes(2000)]]);
    const badChecksum = compressFrame(tar, 3);
    badChecksum[badChecksum.length - 1]! ^= 0xff;
    const cases: [string, Buffer][] = [
      ['garbage after a good frame', Buffer.concat([compressFrame(tar.subarray(0, 600), 3), Buffer.from('garbage garbage garbage')])],
      ['a frame checksum that does not match', badChecksum],
      ['a reserved block type', Buffer.concat([RAW_FRAME_HEADER, Buffer.from([0x07, 0, 0]), Buffer.alloc(600)])],
      ['a plain tar read as .tar.zst', tar],
    ];
    for (const [what, bytes] of cases) {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.tar.zst`);
      await writeFile(file, bytes);
      const err = assertThrowsCode(() => syncEntries(file, 'tar.zst'), 'BUNDLE_UNREADABLE');
      assert.match(err.message, /the zstd stream is damaged/, what);
      assert.equal(err.where, file);
      await assertRejectsCode(streamedEntries(file, 'tar.zst'), 'BUNDLE_UNREADABLE');
    }
  });

  it('a zstd frame asking for a larger window than maxWindowLog is refused; with a larger maxWindowLog it is read', async (t) => {
    const dir = await tempDir(t);
    const tar = join(dir, 'x.tar');
    const entries: Entries = [['a', randomBytes(3000)], ['b', Buffer.alloc(200_000, 1)]];
    await writeWithWriter(tar, 'tar', entries);
    const file = join(dir, 'long.tar.zst');
    // From stdin, zstd does not know the size and writes the 2^28 window into the frame header.
    await writeFile(file, execFileSync('zstd', ['-q', '-c', '--long=28'], { input: await readFile(tar) }));
    assertThrowsCode(() => syncEntries(file, 'tar.zst'), 'BUNDLE_UNREADABLE');
    assertSameEntries(syncEntries(file, 'tar.zst', { maxWindowLog: 28 }), entries, 'maxWindowLog 28');
  });

  it('refuses links, devices, unsafe paths and duplicates with UNSAFE_ARCHIVE_ENTRY, after the entries before them', async (t) => {
    const dir = await tempDir(t);
    const ok: [string, Buffer] = ['ok', Buffer.from('fine')];
    const cases: [string, Buffer][] = [
      ['a symlink', tarOf([ok], [rawHeader('link', 'SymbolicLink', 0, '/etc/passwd')])],
      ['a hard link', tarOf([ok], [rawHeader('hard', 'Link', 0, 'ok')])],
      ['a character device', tarOf([ok], [rawHeader('dev', 'CharacterDevice', 0)])],
      ['a FIFO', tarOf([ok], [rawHeader('fifo', 'FIFO', 0)])],
      ['a ../ path', tarOf([ok, ['../evil', Buffer.from('x')]])],
      ['an absolute path', tarOf([ok, ['/etc/passwd', Buffer.from('x')]])],
      ['a duplicate entry', tarOf([ok, ['./ok', Buffer.from('again')]])],
    ];
    for (const [what, tar] of cases) {
      for (const form of ['tar', 'tar.zst'] as const) {
        const file = join(dir, `${what.replace(/\W+/g, '-')}.${form}`);
        await writeFile(file, form === 'tar' ? tar : compressFrame(tar, 3));
        await assertRejectsCode(streamedEntries(file, form), 'UNSAFE_ARCHIVE_ENTRY');
        const f = new SyncTarFile(file, form);
        try {
          assert.deepEqual(f.next(), { path: 'ok', size: 4 }, `${what} (${form}): the entry before is read`);
          assert.equal(f.read().toString(), 'fine');
          assertThrowsCode(() => f.next(), 'UNSAFE_ARCHIVE_ENTRY');
        } finally {
          f.close();
        }
      }
    }
  });

  it('a bad tar header checksum is BUNDLE_UNREADABLE', async (t) => {
    const dir = await tempDir(t);
    const tar = tarOf([['a', Buffer.from('x')]]);
    tar[0] = 0x62;
    for (const form of ['tar', 'tar.zst'] as const) {
      const file = join(dir, `x.${form}`);
      await writeFile(file, form === 'tar' ? tar : compressFrame(tar, 3));
      assertThrowsCode(() => syncEntries(file, form), 'BUNDLE_UNREADABLE');
    }
  });

  it('maxDecoded: throws once more than that has been decoded', async (t) => {
    const dir = await tempDir(t);
    const tar = tarOf([['zeros', Buffer.alloc(200_000)], ['after', Buffer.from('x')]]);
    const file = join(dir, 'x.tar.zst');
    await writeFile(file, compressFrame(tar, 3));
    const err = assertThrowsCode(() => syncEntries(file, 'tar.zst', { maxDecoded: 100_000 }), 'BUNDLE_UNREADABLE');
    assert.match(err.message, /more than 100000 bytes decoded/);
    assert.equal(err.where, file);
    // Decoding goes in 128 KiB steps: with room for one step the first header is read, and
    // skipping the 200 000-byte body (not reading it) decodes past the cap all the same.
    const f = new SyncTarFile(file, 'tar.zst', { maxDecoded: 150_000 });
    try {
      assert.equal(f.next()?.path, 'zeros');
      assertThrowsCode(() => f.next(), 'BUNDLE_UNREADABLE');
    } finally {
      f.close();
    }
    assert.deepEqual(syncEntries(file, 'tar.zst', { maxDecoded: tar.length }).map(([p]) => p), ['zeros', 'after'], 'exactly the tar\'s size is enough');
  });

  it('stops where asked: the first small entries of a > 20 MB archive, then a long skip to an entry past the large one', async (t) => {
    const dir = await tempDir(t);
    const a = Buffer.from('{"first":true}');
    const b = randomBytes(3000);
    const big = randomBytes(21 << 20);
    const c = Buffer.from('after the large one');
    const entries: Entries = [['a', a], ['b', b], ['big', big], ['c', c]];
    for (const form of ['tar', 'tar.zst'] as const) {
      const file = join(dir, `big.${form}`);
      await writeWithWriter(file, form, entries, (p) => p === 'big');
      assert.ok((await readFile(file)).length > 20 << 20);
      // A decode cap of 1 MiB: for the .tar.zst, proof that only the front was decoded.
      const f = new SyncTarFile(file, form, { maxDecoded: 1 << 20 });
      try {
        assert.deepEqual(f.next(), { path: 'a', size: a.length });
        assert.ok(f.read().equals(a));
        assert.deepEqual(f.next(), { path: 'b', size: b.length });
        assert.ok(f.read().equals(b));
        assert.deepEqual(f.next(), { path: 'big', size: big.length });
        if (form === 'tar.zst') assertThrowsCode(() => f.next(), 'BUNDLE_UNREADABLE'); // skipping big decodes 21 MiB
      } finally {
        f.close();
      }
      const g = new SyncTarFile(file, form);
      try {
        for (const want of ['a', 'b', 'big']) assert.equal(g.next()?.path, want);
        assert.deepEqual(g.next(), { path: 'c', size: c.length }, `${form}: 21 MiB skipped`);
        assert.ok(g.read().equals(c));
        assert.equal(g.next(), undefined);
      } finally {
        g.close();
      }
    }
  });

  it('errors are AirlockErrors with a hint for damaged and incomplete files', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'cut.tar');
    await writeFile(file, tarOf([['a', randomBytes(2000)]]).subarray(0, 1000));
    try {
      syncEntries(file, 'tar');
      assert.fail('read a truncated file');
    } catch (err) {
      assert.ok(err instanceof AirlockError);
      assert.match(err.hint ?? '', /copy it again/);
    }
    // A stream that is not read to the end is fine to close.
    const whole = join(dir, 'whole.tar');
    await writeFile(whole, tarOf([['a', randomBytes(2000)], ['b', Buffer.from('b')]]));
    const f = new SyncTarFile(whole, 'tar');
    assert.equal(f.next()?.path, 'a');
    f.close();
    await assertRejectsCode(streamedEntries(file, 'tar'), 'BUNDLE_UNREADABLE');
  });
});
