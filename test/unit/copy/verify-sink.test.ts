import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { DiscardSink, isVerifiedFor, verifyStream } from '../../../src/content/index.js';
import { executeCopy, planCopy, type CopyEvent, type CopyPlan, type PlanNode, type PlannedRoot, type RootTarget, type SuppliedBlob } from '../../../src/copy/index.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor, type Digest } from '../../../src/oci/index.js';

function blob(data: Buffer, mediaType = MEDIA_TYPE_OCI_LAYER_GZIP): { desc: Descriptor; data: Buffer } {
  return { desc: { mediaType, digest: digestOf(data), size: data.length }, data };
}

/** An image whose second layer is cut in two pieces; the plan of it (as a bundle's front gives it). */
function fixture(): { plan: CopyPlan; root: PlannedRoot; cfg: { desc: Descriptor; data: Buffer }; whole: { desc: Descriptor; data: Buffer }; cut: { desc: Descriptor; data: Buffer }; halves: Buffer[] } {
  const cfg = blob(Buffer.from('{"os":"linux"}'), MEDIA_TYPE_OCI_CONFIG);
  const whole = blob(Buffer.from('a whole layer'));
  const cut = blob(Buffer.from('a layer cut across two volumes'));
  const halves = [cut.data.subarray(0, 10), cut.data.subarray(10)];
  const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: cfg.desc, layers: [whole.desc, cut.desc] })), MEDIA_TYPE_OCI_MANIFEST);
  const nodes = new Map<Digest, PlanNode>([
    [manifest.desc.digest, { desc: manifest.desc, kind: 'manifest', bytes: manifest.data, children: [cfg.desc.digest, whole.desc.digest, cut.desc.digest] }],
    [cfg.desc.digest, { desc: cfg.desc, kind: 'config', children: [] }],
    [whole.desc.digest, { desc: whole.desc, kind: 'layer', children: [] }],
    [cut.desc.digest, { desc: cut.desc, kind: 'layer', children: [] }],
  ]);
  const root: PlannedRoot = { kind: 'image', repository: 'example.com/app', registry: 'example.com', repositoryPath: 'app', desc: manifest.desc };
  return { plan: planCopy({ roots: [root], nodes, targetOf: () => 'verify' }), root, cfg, whole, cut, halves };
}

const pieceOf = (data: Buffer, offset: number): { offset: number; digest: Digest; size: number } => ({ offset, digest: digestOf(data), size: data.length });

describe('verify as a copy into DiscardSink (issue 22)', () => {
  it('checks every whole blob and every piece against its own digest, and collects every mismatch instead of stopping', async () => {
    const f = fixture();
    const sink = new DiscardSink({ holds: [f.root.desc.digest, f.cfg.desc.digest] });
    const damaged = Buffer.from(f.halves[1]!);
    damaged[0] = damaged[0]! ^ 1;
    const entries: SuppliedBlob[] = [
      { desc: f.whole.desc, body: Readable.from([Buffer.from('a whole layeR')]), where: 'vol1, entry whole' },
      { desc: f.cut.desc, body: Readable.from([f.halves[0]!]), where: 'vol1, entry piece 0', piece: pieceOf(f.halves[0]!, 0) },
      // Listed with the digest of the good bytes; the bytes carried differ.
      { desc: f.cut.desc, body: Readable.from([damaged]), where: 'vol2, entry piece 10', piece: pieceOf(f.halves[1]!, 10) },
    ];
    const events: CopyEvent[] = [];
    const targets: RootTarget[] = f.plan.targets.map((t) => ({ ...t, sink }));
    await executeCopy(f.plan, { kind: 'sequential', blobs: Readable.from(entries) as AsyncIterable<SuppliedBlob> }, targets, {
      concurrency: 1, checkEveryBlob: true, onEvent: (e) => events.push(e),
    });
    assert.deepEqual(sink.problems.map((p) => [p.code, p.where]), [['DIGEST_MISMATCH', 'vol1, entry whole'], ['DIGEST_MISMATCH', 'vol2, entry piece 10']]);
    assert.equal(sink.blobs, 1, 'only the good piece counts as checked');
    assert.equal(sink.bytes, 10);
    const starts = events.filter((e) => e.type === 'blob-start').map((e) => (e.type === 'blob-start' ? e.size : 0));
    assert.deepEqual(starts, [f.whole.desc.size, 10, f.cut.desc.size - 10], 'one start per entry, a piece with its own size');
  });

  it('keeps a blob it is asked to keep only when its bytes match, and skips hashing a body that verifies itself', async () => {
    const f = fixture();
    const sink = new DiscardSink();
    const body = Readable.from([f.whole.data]).pipe(verifyStream(f.whole.desc));
    assert.equal(isVerifiedFor(body, f.whole.desc), true);
    assert.equal(isVerifiedFor(body, f.cut.desc), false);
    assert.equal(isVerifiedFor(Readable.from([f.whole.data]), f.whole.desc), false);
    await sink.push(f.whole.desc, body);
    await sink.push(f.cut.desc, Readable.from([Buffer.from('something else entirely')]));
    assert.equal(sink.blobs, 1);
    assert.deepEqual(sink.problems.map((p) => p.code), ['SIZE_MISMATCH']);
    assert.equal(await sink.exists(f.whole.desc), false, 'a copy to nowhere holds only what it was told it holds');
  });

  it('hashInPlace: a sink that only checks takes the hash made elsewhere (the body is never read), with the same checks and errors; not for a blob it keeps', async () => {
    const f = fixture();
    const sha = (b: Buffer): string => digestOf(b).slice('sha256:'.length);
    const sink = new DiscardSink({ holds: [f.root.desc.digest, f.cfg.desc.digest] });
    const unread = (): Readable => new Readable({ read() { throw new Error('the body of an entry hashed in place was read'); } });
    const damaged = Buffer.from(f.whole.data);
    damaged[3] = damaged[3]! ^ 1;
    const entries: SuppliedBlob[] = [
      // The bytes where they lie are damaged: the hash made elsewhere says so.
      { desc: f.whole.desc, body: unread(), where: 'vol1, entry whole', hashInPlace: async (o) => { o.onProgress(damaged.length); return { hex: sha(damaged), bytes: damaged.length }; } },
      { desc: f.cut.desc, body: unread(), where: 'vol1, entry piece 0', piece: pieceOf(f.halves[0]!, 0), hashInPlace: async () => ({ hex: sha(f.halves[0]!), bytes: 10 }) },
      // A short count is a size mismatch, as verifyStream reports it.
      { desc: f.cut.desc, body: unread(), where: 'vol2, entry piece 10', piece: pieceOf(f.halves[1]!, 10), hashInPlace: async () => ({ hex: sha(f.halves[1]!), bytes: 3 }) },
    ];
    const events: CopyEvent[] = [];
    const targets: RootTarget[] = f.plan.targets.map((t) => ({ ...t, sink }));
    await executeCopy(f.plan, { kind: 'sequential', blobs: Readable.from(entries) as AsyncIterable<SuppliedBlob> }, targets, {
      concurrency: 4, checkEveryBlob: true, onEvent: (e) => events.push(e),
    });
    assert.deepEqual(sink.problems.map((p) => [p.code, p.where]).sort(), [['DIGEST_MISMATCH', 'vol1, entry whole'], ['SIZE_MISMATCH', 'vol2, entry piece 10']]);
    assert.equal(sink.blobs, 1);
    assert.equal(sink.bytes, 10);
    assert.equal(events.filter((e) => e.type === 'bytes').reduce((n, e) => n + (e.type === 'bytes' ? e.bytes : 0), 0), damaged.length);

    // A blob the sink keeps (verify --upstream's release files) is not taken as a check: its body is read.
    const keepSink = new DiscardSink({ keep: (d) => (d.digest === f.whole.desc.digest ? '/kept/whole' : undefined) });
    assert.equal(keepSink.takesChecked(f.whole.desc), false);
    assert.equal(keepSink.takesChecked(f.cut.desc), true);
  });
});
