import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Header } from 'tar';
import { createTarWriter, indexTar, readTarEntries, tarEntryBytes } from '../../../src/archive/index.js';
import { SyncTarFile } from '../../../src/archive/sync-tar.js';
import { encodeFileHeader, paddingOf, TAR_END_BYTES } from '../../../src/archive/tar-header.js';
import { compressFrame } from '../../../src/archive/zstd.js';
import {
  openBundle, readBundleFront, readBundleManifestFile, blobEntryName, parseEntryName, MAX_AIRLOCK_JSON_BYTES, type BundleReader,
} from '../../../src/bundle/index.js';
import { frontEntriesOf, readFrontEntries, type FrontEntry } from '../../../src/bundle/front.js';
import { verifyStream } from '../../../src/content/index.js';
import { DigestMismatchError } from '../../../src/errors.js';
import type { Digest } from '../../../src/oci/index.js';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';
import { exportBundle, sha256, stageLayout, tempDir, type StagedLayout } from './fixture.js';

function listEntries(file: string, form: 'tar' | 'tar.zst'): string[] {
  const tar = form === 'tar.zst' ? execFileSync('zstd', ['-dc', file]) : undefined;
  const out = execFileSync('tar', ['-t', ...(tar ? [] : ['-f', file])], { ...(tar ? { input: tar } : {}), encoding: 'utf8', maxBuffer: 1 << 26 });
  return out.trim().split('\n');
}

/** Drain every payload entry, verifying each against its digest (pieces against the piece digest). */
async function drain(reader: BundleReader): Promise<{ whole: Map<Digest, Buffer>; pieces: Map<Digest, Map<number, Buffer>> }> {
  const whole = new Map<Digest, Buffer>();
  const pieces = new Map<Digest, Map<number, Buffer>>();
  for await (const e of reader.blobs()) {
    const chunks: Buffer[] = [];
    const target = e.piece ? { digest: e.piece.digest, size: e.piece.size } : e.desc;
    await pipeline(e.body, verifyStream(target), new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
    const data = Buffer.concat(chunks);
    if (e.piece) {
      let m = pieces.get(e.desc.digest);
      if (!m) pieces.set(e.desc.digest, (m = new Map()));
      assert.ok(!m.has(e.piece.offset), 'each piece once');
      m.set(e.piece.offset, data);
    } else {
      assert.ok(!whole.has(e.desc.digest), 'each blob once');
      whole.set(e.desc.digest, data);
    }
  }
  return { whole, pieces };
}

function expectedFront(staged: StagedLayout): string[] {
  return ['airlock.json', 'airlock.sigstore.json', 'oci-layout', 'index.json', ...[...staged.metadata].map((d) => blobEntryName(d))];
}

describe('writeBundle → openBundle', () => {
  for (const form of ['tar', 'tar.zst', 'dir'] as const) {
    it(`round-trips a ${form} bundle in the contract's order, with checksums.txt that sha256sum accepts`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { index: true });
      const out = join(dir, 'out', form === 'dir' ? 'bundle' : `bundle.${form}`);
      await mkdir(dirname(out));
      const res = await exportBundle(staged, out, form);
      execFileSync('sha256sum', ['-c', '--quiet', 'checksums.txt'], { cwd: dirname(out) });
      const names = await readdir(dirname(out));
      assert.deepEqual(names.sort(), ['checksums.txt', basename(out)].sort(), 'no temporary files left');
      if (form !== 'dir') {
        assert.deepEqual(listEntries(out, form), [...expectedFront(staged), ...staged.order.filter((d) => !staged.metadata.has(d)).map((d) => blobEntryName(d))]);
        assert.equal(res.files.length, 1);
        assert.equal(res.files[0]!.size, (await stat(out)).size);
      } else {
        assert.equal(res.files.length, 4 + staged.blobs.size);
      }

      const reader = await openBundle([out]);
      t.after(() => reader.close());
      assert.equal(reader.form, form);
      assert.ok(reader.airlockRaw.equals(res.raw));
      assert.equal(reader.id, sha256(res.raw));
      assert.ok(reader.signature?.equals(res.signature));
      assert.equal(reader.index.manifests.length, 1);
      assert.deepEqual(new Set(reader.metadata.keys()), staged.metadata);
      for (const [d, data] of reader.metadata) assert.ok(data.equals(staged.blobs.get(d)!));
      const { whole, pieces } = await drain(reader);
      assert.equal(pieces.size, 0);
      for (const d of staged.order.filter((x) => !staged.metadata.has(x))) assert.ok(whole.get(d)?.equals(staged.blobs.get(d)!), `layer ${d}`);
      assert.equal(reader.presentBlobs().size, staged.blobs.size);
      assert.deepEqual(reader.missing(), []);
      await assertRejectsCode(async () => { for await (const _ of reader.blobs()) { /* once only */ } }, 'INTERNAL');

      if (form !== 'tar.zst') {
        const again = await openBundle([out]);
        t.after(() => again.close());
        const src = again.source();
        for (const [d, data] of staged.blobs) {
          const body = await src.fetch({ digest: d, size: data.length, mediaType: 'x' });
          const chunks: Buffer[] = [];
          for await (const c of body) chunks.push(c as Buffer);
          assert.ok(Buffer.concat(chunks).equals(data));
        }
        const root = await src.resolve('example.com/app0:1.0');
        assert.equal(root.digest, staged.artifacts[0]!.digest);
      }
    });
  }

  for (const form of ['tar.zst', 'tar'] as const) {
    it(`splits a ${form} bundle into ≥ 3 volumes under the size limit, one blob cut into pieces, readable in any order`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[150_000, 20_000, 30_000], [10_000, 40_000, 5]] });
      const maxSize = 80 * 1024;
      const out = join(dir, 'out', `b.${form}`);
      await mkdir(dirname(out));
      const res = await exportBundle(staged, out, form, maxSize);
      const vols = res.files.map((f) => f.path);
      assert.ok(vols.length >= 3, `${vols.length} volumes`);
      assert.deepEqual(vols.map((v) => basename(v)), vols.map((_, i) => `b.vol${String(i + 1).padStart(3, '0')}.${form}`));
      for (const f of res.files) assert.ok((await stat(f.path)).size <= maxSize, `${f.path} is ${f.size} bytes`);
      const cut = res.manifest.blobs.filter((b) => b.pieces);
      assert.equal(cut.length, 1);
      assert.ok(cut[0]!.pieces!.length >= 2);
      execFileSync('sha256sum', ['-c', '--quiet', 'checksums.txt'], { cwd: dirname(out) });
      for (const v of vols) assert.deepEqual(listEntries(v, form).slice(0, staged.metadata.size + 4), expectedFront(staged));

      // All volumes, reversed: every blob exactly once, pieces reassemble.
      const reader = await openBundle([...vols].reverse());
      t.after(() => reader.close());
      const { whole, pieces } = await drain(reader);
      for (const d of staged.order.filter((x) => !staged.metadata.has(x))) {
        const p = pieces.get(d);
        const data = p ? Buffer.concat([...p.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b)) : whole.get(d);
        assert.ok(data?.equals(staged.blobs.get(d)!), `blob ${d}`);
        assert.ok(!(p && whole.has(d)));
      }
      assert.deepEqual(reader.missing(), []);
      assert.deepEqual(reader.volumes.map((v) => v.number), vols.map((_, i) => vols.length - i));

      // One volume alone: the others are reported missing, by volume.
      const one = await openBundle([vols[1]!]);
      t.after(() => one.close());
      await drain(one);
      const missingVolumes = new Set(one.missing().flatMap((m) => m.volumes));
      assert.ok(!missingVolumes.has(2));
      assert.ok(missingVolumes.size >= 1);

      if (form === 'tar') {
        const all = await openBundle(vols);
        t.after(() => all.close());
        const src = all.source();
        const d = cut[0]!.digest;
        const chunks: Buffer[] = [];
        for await (const c of await src.fetch({ digest: d, size: cut[0]!.size, mediaType: 'x' })) chunks.push(c as Buffer);
        assert.ok(Buffer.concat(chunks).equals(staged.blobs.get(d)!), 'random access reassembles pieces');
      }
    });
  }

  it('refuses a volume of another bundle, naming it', async (t) => {
    const dir = await tempDir(t);
    const a = await exportBundle(await stageLayout(join(dir, 'sa'), { images: [[100_000, 100_000]] }), join(dir, 'a.tar'), 'tar', 90_000);
    const b = await exportBundle(await stageLayout(join(dir, 'sb'), { images: [[100_000, 100_000]] }), join(dir, 'b.tar'), 'tar', 90_000);
    const err = await assertRejectsCode(openBundle([a.files[0]!.path, b.files[1]!.path]), 'BUNDLE_UNREADABLE');
    assert.equal(err.where, b.files[1]!.path);
  });

  it('writes nothing that looks like a bundle when the staging is corrupt', async (t) => {
    const dir = await tempDir(t);
    const staged = await stageLayout(join(dir, 'stage'));
    const layer = staged.order[staged.order.length - 1]!;
    const file = join(staged.dir, 'blobs', 'sha256', layer.slice(7));
    const data = await readFile(file);
    data[0]! ^= 1;
    await writeFile(file, data);
    await mkdir(join(dir, 'out'));
    await assertRejectsCode(exportBundle(staged, join(dir, 'out', 'x.tar.zst'), 'tar.zst'), 'DIGEST_MISMATCH');
    await assertRejectsCode(exportBundle(staged, join(dir, 'out', 'd'), 'dir'), 'DIGEST_MISMATCH');
    assert.deepEqual(await readdir(join(dir, 'out')), []);
  });
});

describe('writeBundle cancellation', () => {
  it('stops on abort and leaves no file behind', async (t) => {
    const dir = await tempDir(t);
    const staged = await stageLayout(join(dir, 'stage'));
    const { writeBundle } = await import('../../../src/bundle/index.js');
    const { airlockJson, airlockManifest } = await import('./fixture.js');
    await mkdir(join(dir, 'out'));
    const ac = new AbortController();
    ac.abort();
    await assertRejectsCode(writeBundle({
      layoutDir: staged.dir, airlockJson: airlockJson(airlockManifest(staged)), output: join(dir, 'out', 'x.tar.zst'),
      form: 'tar.zst', order: staged.order, signal: ac.signal,
    }), 'ABORTED');
    assert.deepEqual(await readdir(join(dir, 'out')), []);
  });
});

describe('readBundleFront', () => {
  for (const form of ['tar', 'tar.zst'] as const) {
    it(`reads only the front of a ${form} with a large trailing layer`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[32 << 20]] });
      const out = join(dir, `big.${form}`);
      const res = await exportBundle(staged, out, form);
      const front = await readBundleFront(out);
      assert.equal(front.id, sha256(res.raw));
      assert.equal(front.metadata.size, 2);
      assert.ok(front.bytesRead < 4 << 20, `read ${front.bytesRead} bytes of ${(await stat(out)).size}`);
    });
  }

  it('reads a bare airlock.json', async (t) => {
    const dir = await tempDir(t);
    const res = await exportBundle(await stageLayout(join(dir, 'stage')), join(dir, 'd'), 'dir');
    const m = await readBundleManifestFile(join(dir, 'd', 'airlock.json'));
    assert.equal(m.id, sha256(res.raw));
    const f = await readBundleFront(join(dir, 'd'));
    assert.equal(f.form, 'dir');
  });
});

/** Write a tar of these entries (raw, no validation) to `path`. */
async function writeTar(path: string, entries: readonly { path: string; data: Buffer }[]): Promise<void> {
  const out = createWriteStream(path);
  const w = createTarWriter(out);
  for (const e of entries) await w.addEntry(e.path, e.data.length, e.data);
  await w.finish();
}

async function tarEntriesOf(file: string): Promise<{ path: string; data: Buffer }[]> {
  const { readTarEntries } = await import('../../../src/archive/index.js');
  const { createReadStream } = await import('node:fs');
  const out: { path: string; data: Buffer }[] = [];
  for await (const e of readTarEntries(createReadStream(file))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c as Buffer);
    out.push({ path: e.path, data: Buffer.concat(chunks) });
  }
  return out;
}

describe('openBundle on altered bundles', () => {
  const cases: [string, (e: { path: string; data: Buffer }[]) => { path: string; data: Buffer }[], string][] = [
    ['an extra entry not in airlock.json', (e) => [...e, { path: 'evil.sh', data: Buffer.from('x') }], 'UNSAFE_ARCHIVE_ENTRY'],
    ['an extra blob not in airlock.json', (e) => [...e, { path: `blobs/sha256/${'e'.repeat(64)}`, data: Buffer.from('x') }], 'UNSAFE_ARCHIVE_ENTRY'],
    ['a layer before the configs', (e) => [...e.slice(0, 5), e[e.length - 1]!, ...e.slice(5, -1)], 'BUNDLE_UNREADABLE'],
    ['index.json before oci-layout', (e) => [e[0]!, e[1]!, e[3]!, e[2]!, ...e.slice(4)], 'BUNDLE_UNREADABLE'],
    ['no airlock.json first', (e) => e.slice(1), 'BUNDLE_UNREADABLE'],
    ['a layer left out', (e) => e.slice(0, -1), 'BUNDLE_INCOMPLETE'],
    ['a layer with other bytes', (e) => [...e.slice(0, -1), { ...e[e.length - 1]!, data: randomBytes(e[e.length - 1]!.data.length) }], 'DIGEST_MISMATCH'],
    ['a manifest with other bytes', (e) => [...e.slice(0, 4), { ...e[4]!, data: Buffer.alloc(e[4]!.data.length, 32) }, ...e.slice(5)], 'DIGEST_MISMATCH'],
    ['a layer of another size', (e) => [...e.slice(0, -1), { ...e[e.length - 1]!, data: Buffer.alloc(3) }], 'SIZE_MISMATCH'],
  ];
  for (const [what, alter, code] of cases) {
    it(`refuses ${what} with ${code}`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
      await exportBundle(staged, join(dir, 'good.tar'), 'tar');
      const entries = await tarEntriesOf(join(dir, 'good.tar'));
      await writeTar(join(dir, 'bad.tar'), alter(entries));
      await assertRejectsCode(async () => {
        const r = await openBundle([join(dir, 'bad.tar')]);
        try {
          await drain(r);
        } finally {
          await r.close();
        }
      }, code as 'BUNDLE_UNREADABLE');
    });
  }

  it('refuses a symlink in a bundle directory', async (t) => {
    const dir = await tempDir(t);
    const staged = await stageLayout(join(dir, 'stage'));
    await exportBundle(staged, join(dir, 'd'), 'dir');
    const layer = staged.order[staged.order.length - 1]!;
    const file = join(dir, 'd', blobEntryName(layer));
    await rm(file);
    await symlink('/etc/hostname', file);
    const r = await openBundle([join(dir, 'd')]);
    t.after(() => r.close());
    await assertRejectsCode(drain(r), 'UNSAFE_ARCHIVE_ENTRY');
  });

  it('reads a bundle directory in place when every layer is a regular file of its size; not with a symlink, a missing or a resized layer', async (t) => {
    const dir = await tempDir(t);
    const staged = await stageLayout(join(dir, 'stage'));
    await exportBundle(staged, join(dir, 'd'), 'dir');
    const clean = await openBundle([join(dir, 'd')]);
    t.after(() => clean.close());
    const source = await clean.randomAccess();
    assert.ok(source, 'a clean directory is read in place');
    for (const d of staged.order) {
      const want = staged.blobs.get(d)!;
      const chunks: Buffer[] = [];
      for await (const c of await source.fetch({ mediaType: 'application/octet-stream', digest: d, size: want.length })) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(want), d);
    }
    const layer = staged.order[staged.order.length - 1]!;
    const file = join(dir, 'd', blobEntryName(layer));
    const bytes = staged.blobs.get(layer)!;
    for (const [what, damage] of [
      ['a symlink', async () => { await rm(file); await symlink('/etc/hostname', file); }],
      ['missing', async () => { await rm(file); }],
      ['resized', async () => { await writeFile(file, Buffer.concat([bytes, Buffer.from('x')])); }],
    ] as const) {
      await damage();
      const r = await openBundle([join(dir, 'd')]);
      assert.equal(await r.randomAccess(), undefined, what);
      await r.close();
      await rm(file, { force: true });
      await writeFile(file, bytes);
    }
  });
});

/** A tar of these entries (no validation), with raw header blocks spliced in before entry `at`. */
function tarBytes(entries: readonly { path: string; data: Buffer }[], raw?: { at: number; block: Buffer }): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    if (raw?.at === i) parts.push(raw.block);
    parts.push(encodeFileHeader(e.path, e.data.length), e.data, Buffer.alloc(paddingOf(e.data.length)));
  });
  return Buffer.concat([...parts, Buffer.alloc(TAR_END_BYTES)]);
}

/** Write `tar` as a bundle file of `form`: as is, or in one zstd frame. */
async function writeForm(file: string, form: 'tar' | 'tar.zst', tar: Buffer): Promise<void> {
  await writeFile(file, form === 'tar' ? tar : compressFrame(tar, 3));
}

describe('openBundle: the first volume\'s front read in this thread', () => {
  for (const form of ['tar', 'tar.zst'] as const) {
    it(`a ${form} bundle: the same front as the streaming reader; blobs() then yields every layer with its bytes`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { index: true, images: [[3000, 1 << 20, 0], [5000, 300_000]] });
      const out = join(dir, `bundle.${form}`);
      const res = await exportBundle(staged, out, form);
      const reader = await openBundle([out]);
      t.after(() => reader.close());
      const streamed = await readBundleFront(out);
      assert.ok(reader.airlockRaw.equals(res.raw));
      assert.ok(reader.airlockRaw.equals(streamed.airlockRaw));
      assert.equal(reader.id, streamed.id);
      assert.deepEqual(reader.manifest, streamed.manifest);
      assert.ok(reader.signature?.equals(res.signature));
      assert.ok(reader.signature?.equals(streamed.signature!));
      assert.ok(reader.ociLayoutRaw.equals(streamed.ociLayoutRaw));
      assert.ok(reader.indexRaw.equals(streamed.indexRaw));
      assert.deepEqual(reader.index, streamed.index);
      assert.deepEqual([...reader.metadata.keys()], [...streamed.metadata.keys()]);
      assert.deepEqual(new Set(reader.metadata.keys()), staged.metadata);
      for (const [d, data] of reader.metadata) {
        assert.ok(data.equals(streamed.metadata.get(d)!));
        assert.equal(sha256(data), d);
      }
      assert.deepEqual(new Set(reader.presentBlobs()), staged.metadata, 'before blobs(): the metadata');

      // blobs() reads the first volume again from its start: every layer, once, none of the front.
      const { whole, pieces } = await drain(reader);
      assert.equal(pieces.size, 0);
      const layers = staged.order.filter((d) => !staged.metadata.has(d));
      assert.deepEqual([...whole.keys()], layers, 'every layer in bundle order, no metadata');
      for (const d of layers) {
        assert.equal(sha256(whole.get(d)!), d, `layer ${d}`);
        assert.ok(whole.get(d)!.equals(staged.blobs.get(d)!));
      }
      assert.equal(reader.presentBlobs().size, staged.blobs.size);
      assert.deepEqual(reader.missing(), []);
    });

    it(`a ${form} bundle: blobs() checks the first volume's front again (the file changed after openBundle)`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
      const out = join(dir, `bundle.${form}`);
      await exportBundle(staged, out, form);
      await exportBundle(staged, join(dir, 'plain.tar'), 'tar');
      const good = await tarEntriesOf(join(dir, 'plain.tar'));
      const other = await exportBundle(await stageLayout(join(dir, 'other-stage'), { images: [[5000, 7000]] }), join(dir, `other.${form}`), form);

      // Another bundle's file in its place: its airlock.json differs.
      const r1 = await openBundle([out]);
      t.after(() => r1.close());
      await copyFile(other.files[0]!.path, out);
      const e1 = await assertRejectsCode(drain(r1), 'BUNDLE_UNREADABLE');
      assert.match(e1.message, /another bundle/);

      // The same airlock.json, a manifest with other bytes: refused as it is when opened.
      await exportBundle(staged, join(dir, `again.${form}`), form);
      await copyFile(join(dir, `again.${form}`), out);
      const r2 = await openBundle([out]);
      t.after(() => r2.close());
      const manifest = good[4]!;
      await writeForm(out, form, tarBytes([...good.slice(0, 4), { ...manifest, data: Buffer.alloc(manifest.data.length, 32) }, ...good.slice(5)]));
      const e2 = await assertRejectsCode(drain(r2), 'DIGEST_MISMATCH');
      assert.equal(e2.where, `${out}, entry ${manifest.path}`);
    });
  }

  describe('a damaged front is reported by the streaming reader, with the code it gave before', () => {
    type Entry = { path: string; data: Buffer };
    const symlink = Buffer.alloc(512);
    new Header({ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd', size: 0, mode: 0o777, mtime: new Date(0) }).encode(symlink, 0);
    const cases: [string, (e: Entry[]) => Buffer, string, RegExp][] = [
      ['no airlock.json first', (e) => tarBytes(e.slice(1)), 'BUNDLE_UNREADABLE', /not airlock\.json/],
      ['index.json before oci-layout', (e) => tarBytes([e[0]!, e[1]!, e[3]!, e[2]!, ...e.slice(4)]), 'BUNDLE_UNREADABLE', /comes where oci-layout belongs/],
      ['a manifest with other bytes', (e) => tarBytes([...e.slice(0, 4), { ...e[4]!, data: Buffer.alloc(e[4]!.data.length, 32) }, ...e.slice(5)]), 'DIGEST_MISMATCH', /digest mismatch/],
      ['a config of another size', (e) => tarBytes([...e.slice(0, 5), { ...e[5]!, data: Buffer.concat([e[5]!.data, Buffer.from(' ')]) }, ...e.slice(6)]), 'SIZE_MISMATCH', /airlock\.json says/],
      ['a symlink among the front entries', (e) => tarBytes(e, { at: 3, block: symlink }), 'UNSAFE_ARCHIVE_ENTRY', /SymbolicLink, not a regular file/],
      ['a duplicate oci-layout', (e) => tarBytes([...e.slice(0, 3), e[2]!, ...e.slice(3)]), 'UNSAFE_ARCHIVE_ENTRY', /duplicate archive entry oci-layout/],
    ];
    for (const form of ['tar', 'tar.zst'] as const) {
      for (const [what, make, code, message] of cases) {
        it(`${form}: ${what} is ${code}, as the streaming reader reports it`, async (t) => {
          const dir = await tempDir(t);
          const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
          await exportBundle(staged, join(dir, 'good.tar'), 'tar');
          const bad = join(dir, `bad.${form}`);
          await writeForm(bad, form, make(await tarEntriesOf(join(dir, 'good.tar'))));
          const opened = await assertRejectsCode(openBundle([bad]), code as 'BUNDLE_UNREADABLE');
          const streamed = await assertRejectsCode(readBundleFront(bad), code as 'BUNDLE_UNREADABLE');
          assert.match(opened.message, message);
          assert.equal(opened.message, streamed.message);
          assert.equal(opened.where, streamed.where);
          assert.equal(opened.constructor, streamed.constructor);
        });
      }
    }

    it('a file cut inside the front is BUNDLE_UNREADABLE (the streaming reader\'s report), not the in-thread reader\'s BUNDLE_INCOMPLETE', async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
      const good = join(dir, 'good.tar');
      await exportBundle(staged, good, 'tar');
      const manifest = blobEntryName([...staged.metadata][0]!);
      const at = (await indexTar(good)).get(manifest)!.offset;
      const tar = await readFile(good);
      const cuts: [string, 'tar' | 'tar.zst', Buffer][] = [
        ['cut.tar', 'tar', tar.subarray(0, at + 10)],
        ['cut.tar.zst', 'tar.zst', compressFrame(tar, 3).subarray(0, 100)],
        ['two-frames.tar.zst', 'tar.zst', Buffer.concat([compressFrame(tar.subarray(0, at), 3), compressFrame(tar.subarray(at), 3).subarray(0, 20)])],
      ];
      for (const [name, form, bytes] of cuts) {
        const file = join(dir, name);
        await writeFile(file, bytes);
        const inThread = new SyncTarFile(file, form);
        try {
          assertThrowsCode(() => { while (inThread.next()) inThread.read(); }, 'BUNDLE_INCOMPLETE');
        } finally {
          inThread.close();
        }
        const opened = await assertRejectsCode(openBundle([file]), 'BUNDLE_UNREADABLE');
        const streamed = await assertRejectsCode(readBundleFront(file), 'BUNDLE_UNREADABLE');
        assert.equal(opened.message, streamed.message, name);
      }
    });

    it('a damaged zstd stream inside the front is BUNDLE_UNREADABLE', async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
      const good = join(dir, 'good.tar');
      await exportBundle(staged, good, 'tar');
      const tar = await readFile(good);
      const file = join(dir, 'bad.tar.zst');
      await writeFile(file, Buffer.concat([compressFrame(tar.subarray(0, 1536), 3), Buffer.from('this is no zstd frame at all'), compressFrame(tar.subarray(1536), 3)]));
      await assertRejectsCode(openBundle([file]), 'BUNDLE_UNREADABLE');
      await assertRejectsCode(readBundleFront(file), 'BUNDLE_UNREADABLE');
    });
  });
});

describe('readFrontEntries', () => {
  /** The good bundle's entries as FrontEntry objects whose bytes() calls are counted. */
  async function frontEntries(t: TestContext): Promise<{ entries: (FrontEntry & { calls: number })[]; staged: StagedLayout; raw: Buffer; tar: Buffer }> {
    const dir = await tempDir(t);
    const staged = await stageLayout(join(dir, 'stage'), { images: [[5000, 7000]] });
    const res = await exportBundle(staged, join(dir, 'good.tar'), 'tar');
    const list = await tarEntriesOf(join(dir, 'good.tar'));
    const entries = list.map((e) => {
      const fe = { path: e.path, size: e.data.length, calls: 0, bytes: (): Buffer => {
        fe.calls++;
        return e.data;
      } };
      return fe;
    });
    return { entries, staged, raw: res.raw, tar: await readFile(join(dir, 'good.tar')) };
  }

  it('takes a synchronous iterator of entries with bytes(): reads each front entry once and stops at the first layer, unread', async (t) => {
    const { entries, staged, raw } = await frontEntries(t);
    const r = await readFrontEntries(entries[Symbol.iterator](), 'mem');
    assert.ok(r.front.airlockRaw.equals(raw));
    assert.deepEqual(new Set(r.front.metadata.keys()), staged.metadata);
    const frontCount = 4 + staged.metadata.size;
    assert.equal(r.next, entries[frontCount], 'next: the first layer entry');
    assert.deepEqual(entries.map((e) => e.calls), entries.map((_, i) => (i < frontCount ? 1 : 0)));
    assert.ok(r.tracker.complete);
  });

  it('a metadata entry with other bytes: DigestMismatchError naming the entry, from bytes() and from a streaming tar alike', async (t) => {
    const { entries, tar } = await frontEntries(t);
    const manifest = entries[4]!;
    const altered = entries.map((e) => (e === manifest ? { ...e, bytes: () => Buffer.alloc(e.size, 32) } : e));
    const expected = parseEntryName(manifest.path);
    assert.equal(expected?.kind, 'blob');
    const err = await assertRejectsCode(readFrontEntries(altered[Symbol.iterator](), 'mem'), 'DIGEST_MISMATCH');
    assert.ok(err instanceof DigestMismatchError);
    assert.equal(err.where, `mem, entry ${manifest.path}`);
    assert.equal(err.expected, (expected as { digest: string }).digest);

    // The same through frontEntriesOf over the streaming reader.
    // The manifest's data: after the four layout entries and its own one-block header.
    const at = entries.slice(0, 4).reduce((n, e) => n + tarEntryBytes(e.path, e.size), 0) + 512;
    const bad = Buffer.from(tar);
    bad.fill(32, at, at + manifest.size);
    const err2 = await assertRejectsCode(readFrontEntries(frontEntriesOf(readTarEntries(Readable.from([bad]), { where: 'stream' })), 'stream'), 'DIGEST_MISMATCH');
    assert.ok(err2 instanceof DigestMismatchError);
    assert.equal(err2.where, `stream, entry ${manifest.path}`);
  });

  it('an airlock.json over its cap is refused before its bytes are read; a later volume must carry the same airlock.json', async (t) => {
    const { entries, raw } = await frontEntries(t);
    let read = false;
    const huge = { path: 'airlock.json', size: MAX_AIRLOCK_JSON_BYTES + 1, bytes: (): Buffer => { read = true; return Buffer.alloc(0); } };
    await assertRejectsCode(readFrontEntries([huge][Symbol.iterator](), 'mem'), 'BUNDLE_UNREADABLE');
    assert.equal(read, false);
    const other = Buffer.from(raw.toString().replace('"2025-01-01T00:00:00Z"', '"2025-01-02T00:00:00Z"'));
    const err = await assertRejectsCode(readFrontEntries(entries[Symbol.iterator](), 'vol2', other), 'BUNDLE_UNREADABLE');
    assert.match(err.message, /another bundle/);
    assert.ok((await readFrontEntries(entries.map((e) => ({ ...e }))[Symbol.iterator](), 'vol2', raw)).front.airlockRaw.equals(raw));
  });
});
