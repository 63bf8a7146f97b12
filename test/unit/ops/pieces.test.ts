/**
 * Pieces of a cut blob shared through the target (ops/pieces.ts), for volumes imported by several
 * processes with their own spools. The target is an in-memory stand-in here (the integration test
 * scale-out.test.ts runs the same against two real Distribution instances); what is checked is the
 * rule: every process parks first and looks after, so the one that parks last assembles.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { AirlockManifest, BundleBlob } from '../../../src/bundle/index.js';
import type { RootTarget } from '../../../src/copy/index.js';
import { MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, type Descriptor, type Digest } from '../../../src/oci/index.js';
import type { BundlePlan } from '../../../src/ops/bundle-plan.js';
import { pieceFile, shareCutBlobs } from '../../../src/ops/pieces.js';
import type { RegistryRepository } from '../../../src/registry/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from '../archive/temp.js';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

/** Repositories of one registry, in memory: blobs by digest, verified on push like a registry does. */
function memoryRegistry(): { repoFor: (name: string) => RegistryRepository; blobs: Map<string, Map<Digest, Buffer>>; pushes: string[] } {
  const blobs = new Map<string, Map<Digest, Buffer>>();
  const pushes: string[] = [];
  const of = (name: string): Map<Digest, Buffer> => {
    let m = blobs.get(name);
    if (!m) blobs.set(name, (m = new Map()));
    return m;
  };
  const repoFor = (name: string): RegistryRepository => ({
    name,
    exists: async (d: Descriptor) => of(name).has(d.digest),
    fetch: async (d: Descriptor) => Readable.from([of(name).get(d.digest)!]),
    push: async (d: Descriptor, body: Readable) => {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      assert.equal(sha(bytes), d.digest, `bytes pushed as ${d.digest}`);
      of(name).set(d.digest, bytes);
      pushes.push(`${name} ${d.digest}`);
    },
    mount: async (d: Descriptor, from: string) => {
      const b = of(from).get(d.digest);
      if (b) of(name).set(d.digest, b);
      return b !== undefined;
    },
  }) as unknown as RegistryRepository;
  return { repoFor, blobs, pushes };
}

describe('shareCutBlobs (split volumes on several hosts)', () => {
  const whole = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));
  const cuts = [0, 1200, 2400, whole.length];
  const pieces = cuts.slice(0, -1).map((offset, i) => {
    const bytes = whole.subarray(offset, cuts[i + 1]);
    return { volume: i + 1, offset, size: bytes.length, digest: sha(bytes), bytes };
  });
  const blob: BundleBlob = { digest: sha(whole), size: whole.length, mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, location: 'bundle', pieces: pieces.map(({ bytes: _b, ...p }) => p) };
  const manifest = { blobs: [blob] } as unknown as AirlockManifest;
  const plan = { closureOf: () => [blob.digest] } as unknown as BundlePlan;
  const root = { desc: { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: sha(Buffer.from('m')), size: 1 } };
  const targetsIn = (repos: readonly string[]): RootTarget[] => repos.map((repository) => ({ root, repository, sink: undefined }) as unknown as RootTarget);

  async function spool(dir: string, which: readonly number[]): Promise<string> {
    await mkdir(dir, { recursive: true });
    for (const i of which) await writeFile(pieceFile(dir, blob.digest, pieces[i]!.offset), pieces[i]!.bytes);
    return dir;
  }

  it('the first process parks its piece and waits; the last parks its own, reads the others back, and pushes the verified blob into every repository', async (t) => {
    const dir = await tempDir(t);
    const reg = memoryRegistry();
    const targets = targetsIn(['mirror/app', 'mirror/other']);
    const common = { manifest, plan, targets, wanted: new Set([blob.digest]), repoFor: reg.repoFor, concurrency: 4 };
    const first = await shareCutBlobs({ ...common, spoolDir: await spool(join(dir, 'host1'), [0]) });
    assert.deepEqual(first, { piecesParked: 1, piecesFetched: 0, blobsAssembled: 0, bytesPushed: 0 });
    assert.equal(reg.blobs.get('mirror/app')?.has(blob.digest), false);
    const second = await shareCutBlobs({ ...common, spoolDir: await spool(join(dir, 'host2'), [1]) });
    assert.equal(second.piecesParked, 1);
    assert.equal(second.blobsAssembled, 0, 'assembled with a piece still on a third host');
    const third = await shareCutBlobs({ ...common, spoolDir: await spool(join(dir, 'host3'), [2]) });
    assert.deepEqual(third, { piecesParked: 1, piecesFetched: 2, blobsAssembled: 1, bytesPushed: whole.length });
    for (const repo of ['mirror/app', 'mirror/other']) assert.ok(reg.blobs.get(repo)!.get(blob.digest)!.equals(whole), repo);
    // Pieces are parked in the first repository that needs the blob, once each.
    assert.deepEqual(reg.pushes.filter((p) => p.startsWith('mirror/app ')).length, 4);
    // Run again (a re-run of any host): nothing is parked or pushed twice.
    const again = await shareCutBlobs({ ...common, spoolDir: join(dir, 'host1') });
    assert.deepEqual(again, { piecesParked: 0, piecesFetched: 0, blobsAssembled: 0, bytesPushed: 0 });
  });

  it('a spooled piece damaged since an earlier run is removed and counts as absent (its volume is to be imported again), with a warning', async (t) => {
    const dir = await tempDir(t);
    const reg = memoryRegistry();
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
    const host = await spool(join(dir, 'host1'), [0, 1]);
    await writeFile(pieceFile(host, blob.digest, pieces[1]!.offset), Buffer.alloc(pieces[1]!.size, 0x41));
    const r = await shareCutBlobs({ manifest, plan, targets: targetsIn(['mirror/app']), wanted: new Set([blob.digest]), repoFor: reg.repoFor, concurrency: 4, spoolDir: host, logger: logger as never });
    assert.deepEqual(r, { piecesParked: 1, piecesFetched: 0, blobsAssembled: 0, bytesPushed: 0 });
    assert.equal(reg.blobs.get('mirror/app')!.has(pieces[1]!.digest), false);
    assert.match(warnings.join('\n'), /damaged: removed; import volume 2 again/);
    await assert.rejects(stat(pieceFile(host, blob.digest, pieces[1]!.offset)));
  });

  it('a parked piece that does not match its digest stops the assembly with DIGEST_MISMATCH and pushes nothing', async (t) => {
    const dir = await tempDir(t);
    const reg = memoryRegistry();
    const common = { manifest, plan, targets: targetsIn(['mirror/app']), wanted: new Set([blob.digest]), repoFor: reg.repoFor, concurrency: 4 };
    await shareCutBlobs({ ...common, spoolDir: await spool(join(dir, 'host1'), [0, 1]) });
    // Someone with push rights alters what sits under the parked piece's digest.
    const parked = reg.blobs.get('mirror/app')!;
    parked.set(pieces[1]!.digest, Buffer.from(pieces[1]!.bytes).fill(0x41));
    const host2 = await spool(join(dir, 'host2'), [2]);
    await assertRejectsCode(() => shareCutBlobs({ ...common, spoolDir: host2 }), 'DIGEST_MISMATCH');
    assert.equal(parked.has(blob.digest), false);
  });
});
