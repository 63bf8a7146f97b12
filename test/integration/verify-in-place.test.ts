import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { indexZstdTar, type FileRange } from '../../src/archive/index.js';
import { parseEntryName } from '../../src/bundle/index.js';
import { makeSignedBundles, runCli, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';
import { flipByte } from '../../fixtures/harness/hostile.js';

const execFileP = promisify(execFile);
const parseJsonOutput = <T>(r: { readonly stdout: string }): T => JSON.parse(r.stdout) as T;

interface Problem { code: string; message: string; where?: string }
interface VerifyFailure { error: { code: string; problems: Problem[] } }
interface VerifyOk { blobsChecked: number; bytesChecked: number; volumes?: { given: number[]; count: number } }


/** The largest entries of a .tar.zst of `kind` that lie in raw blocks, with their ranges. */
function rawEntries(path: string, kind: 'blob' | 'piece'): { name: string; size: number; ranges: readonly FileRange[] }[] {
  const index = indexZstdTar(path);
  assert.ok(index.ok, `${path} does not index: ${index.ok ? '' : index.reason}`);
  return [...index.entries]
    .filter(([name, e]) => parseEntryName(name)?.kind === kind && e.ranges !== undefined && e.size > 0)
    .map(([name, e]) => ({ name, size: e.size, ranges: e.ranges! }))
    .sort((a, b) => b.size - a.size);
}

/** A byte in the middle of an entry's ranges. */
function middleOf(ranges: readonly FileRange[]): number {
  const r = ranges[Math.floor(ranges.length / 2)]!;
  return r.offset + Math.floor(r.length / 2);
}

/** The same tar in compressed zstd frames (the zstd tool's own), whose entries cannot be hashed in place. */
async function recompress(from: string, to: string): Promise<string> {
  await execFileP('sh', ['-c', `zstd -q -d -c "${from}" | zstd -q -3 -c > "${to}"`]);
  return to;
}

describe('bundle verify hashes entries stored as they are in a pool of workers (issue 24)', () => {
  let b: SignedBundles;
  let zst: string;

  before(async () => {
    b = await makeSignedBundles();
    zst = await b.exportTo(join(b.work, 'site.tar.zst'));
  });
  after(async () => b?.dispose());

  const verify = (paths: readonly string[]) => runCli(['bundle', 'verify', ...paths, '--verify-key', b.publicKey, '--json']);

  it('a .tar.zst whose layers lie in raw blocks verifies, and checks what a read of compressed frames checks', async () => {
    assert.ok(rawEntries(zst, 'blob').length > 0, 'the export stored no layer in raw blocks');
    const r = await verify([zst]);
    assert.equal(r.code, 0, r.stderr);
    const framed = await recompress(zst, join(b.work, 'framed.tar.zst'));
    const f = await verify([framed]);
    assert.equal(f.code, 0, f.stderr);
    const a = parseJsonOutput<VerifyOk>(r);
    const c = parseJsonOutput<VerifyOk>(f);
    assert.equal(a.blobsChecked, c.blobsChecked);
    assert.equal(a.bytesChecked, c.bytesChecked);
  });

  it('a flipped byte inside a raw-stored layer is found, with the same problem as a front-to-back read reports', async () => {
    const bad = join(b.work, 'bad.tar.zst');
    await copyFile(zst, bad);
    const [layer] = rawEntries(bad, 'blob');
    await flipByte(bad, middleOf(layer!.ranges));
    const r = await verify([bad]);
    assert.equal(r.code, 3, r.stderr);
    const doc = parseJsonOutput<VerifyFailure>(r);
    assert.equal(doc.error.code, 'DIGEST_MISMATCH');
    assert.equal(doc.error.problems.length, 1);
    const [p] = doc.error.problems;
    assert.equal(p!.code, 'DIGEST_MISMATCH');
    assert.equal(p!.where, `${bad}, entry ${layer!.name}`);
    // The same damage with the layer in compressed frames: read front to back, the same finding.
    const framed = await recompress(bad, join(b.work, 'bad-framed.tar.zst'));
    const fi = indexZstdTar(framed);
    // Over 1 MiB in a compressed frame: neither ranges nor bytes in the index, so the whole file is
    // read front to back (decompressed off the main thread), as before the hashing pool.
    const placed = fi.ok ? fi.entries.get(layer!.name) : undefined;
    assert.ok(layer!.size > 1 << 20, 'the largest layer is too small to need the streaming path');
    assert.ok(placed?.ranges === undefined && placed?.data === undefined, 'the recompressed layer is not left to the streaming path');
    const f = await verify([framed]);
    assert.equal(f.code, 3, f.stderr);
    const fdoc = parseJsonOutput<VerifyFailure>(f);
    assert.equal(fdoc.error.problems.length, 1);
    assert.equal(fdoc.error.problems[0]!.code, p!.code);
    assert.equal(fdoc.error.problems[0]!.message, p!.message);
    assert.equal(fdoc.error.problems[0]!.where, `${framed}, entry ${layer!.name}`);
    // Human output names the entry.
    const human = await runCli(['bundle', 'verify', bad, '--verify-key', b.publicKey]);
    assert.equal(human.code, 3);
    assert.ok(human.stderr.includes(layer!.name.split('/').pop()!), human.stderr);
  });

  it('every problem is reported, in entry order, when several raw-stored layers are damaged', async () => {
    const bad = join(b.work, 'bad2.tar.zst');
    await copyFile(zst, bad);
    const layers = rawEntries(bad, 'blob').slice(0, 3);
    assert.ok(layers.length >= 2);
    for (const l of layers) await flipByte(bad, middleOf(l.ranges));
    const r = await verify([bad]);
    assert.equal(r.code, 3, r.stderr);
    const doc = parseJsonOutput<VerifyFailure>(r);
    assert.equal(doc.error.problems.length, layers.length);
    // Entry order is file order: the order of the first range of each.
    const inFileOrder = [...layers].sort((x, y) => x.ranges[0]!.offset - y.ranges[0]!.offset).map((l) => `${bad}, entry ${l.name}`);
    assert.deepEqual(doc.error.problems.map((p) => p.where), inFileOrder);
  });

  it('split volumes verify all together and a subset alone; a flipped byte in a piece names its volume and entry', async () => {
    const dir = join(b.work, 'split');
    await mkdir(dir, { recursive: true });
    await b.exportTo(join(dir, 'site.tar.zst'), ['--split-size', '600KiB']);
    const vols = (await readdir(dir)).filter((n) => /\.vol\d{3}\.tar\.zst$/.test(n)).sort().map((n) => join(dir, n));
    assert.ok(vols.length >= 3, `only ${vols.length} volumes`);
    const all = await verify(vols);
    assert.equal(all.code, 0, all.stderr);
    const allDoc = parseJsonOutput<VerifyOk>(all);
    assert.deepEqual(allDoc.volumes?.given, vols.map((_, i) => i + 1));
    const some = await verify(vols.slice(0, 2));
    assert.equal(some.code, 0, some.stderr);
    assert.deepEqual(parseJsonOutput<VerifyOk>(some).volumes?.given, [1, 2]);
    assert.ok(parseJsonOutput<VerifyOk>(some).blobsChecked < allDoc.blobsChecked);
    // A piece stored in raw blocks, damaged.
    const withPiece = vols.map((v) => ({ v, pieces: rawEntries(v, 'piece') })).find((x) => x.pieces.length > 0);
    assert.ok(withPiece, 'no volume holds a piece in raw blocks');
    const piece = withPiece.pieces[0]!;
    await flipByte(withPiece.v, middleOf(piece.ranges));
    const r = await verify(vols);
    assert.equal(r.code, 3, r.stderr);
    const doc = parseJsonOutput<VerifyFailure>(r);
    assert.equal(doc.error.problems.length, 1, JSON.stringify(doc.error.problems));
    assert.equal(doc.error.problems[0]!.code, 'DIGEST_MISMATCH');
    assert.equal(doc.error.problems[0]!.where, `${withPiece.v}, entry ${piece.name}`);
  });
});
