import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../../src/content/index.js';
import { executeCopy, walkGraph, type CopyPlan, type Journal, type PlanNode, type PlannedRoot, type SequentialBlob } from '../../../src/copy/index.js';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor, type Digest,
} from '../../../src/oci/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

function blob(text: string, mediaType = MEDIA_TYPE_OCI_LAYER_GZIP): { desc: Descriptor; data: Buffer } {
  const data = Buffer.from(text);
  return { desc: { mediaType, digest: digestOf(data), size: data.length }, data };
}

function image(store: MemoryStore, layers: string[], tag?: string): { desc: Descriptor; all: Descriptor[] } {
  const cfg = blob(JSON.stringify({ layers }), MEDIA_TYPE_OCI_CONFIG);
  const ls = layers.map((l) => blob(l));
  const manifest = blob(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: cfg.desc, layers: ls.map((l) => l.desc) }), MEDIA_TYPE_OCI_MANIFEST);
  for (const b of [cfg, ...ls, manifest]) store.put(b.desc, b.data);
  if (tag) void store.tag(manifest.desc, tag);
  return { desc: manifest.desc, all: [cfg.desc, ...ls.map((l) => l.desc), manifest.desc] };
}

function root(desc: Descriptor, tag?: string): PlannedRoot {
  return { kind: 'image', repository: 'example.com/app', registry: 'example.com', repositoryPath: 'app', ...(tag ? { tag } : {}), desc };
}

class MemJournal implements Journal {
  readonly keys = new Set<string>();
  has(k: string): boolean {
    return this.keys.has(k);
  }
  async record(k: string): Promise<void> {
    this.keys.add(k);
  }
}

async function planFor(src: MemoryStore, roots: Descriptor[]): Promise<CopyPlan> {
  const nodes = new Map<Digest, PlanNode>();
  for (const r of roots) await walkGraph(src, r, nodes, { where: 'test', origin: 'example.com/app' });
  return { roots: roots.map((r) => root(r)), nodes };
}

describe('executeCopy', () => {
  it('copies blobs before manifests, each shared blob once, and tags last', async () => {
    const src = new MemoryStore();
    const a = image(src, ['base', 'a-top']);
    const b = image(src, ['base', 'b-top']);
    const plan = await planFor(src, [a.desc, b.desc]);
    const dst = new MemoryStore();
    const order: string[] = [];
    const origPush = dst.push.bind(dst);
    dst.push = async (d, body, o) => {
      order.push(d.mediaType);
      return origPush(d, body, o);
    };
    const report = await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, [
      { root: root(a.desc, 'a'), repository: 'app', sink: dst },
      { root: root(b.desc, 'b'), repository: 'app', sink: dst },
    ]);
    assert.equal(report.blobsPushed, 5); // base, a-top, b-top, 2 configs
    assert.equal(report.manifestsPushed, 2);
    assert.equal(report.tagsSet, 2);
    const firstManifest = order.indexOf(MEDIA_TYPE_OCI_MANIFEST);
    assert.ok(order.slice(firstManifest).every((m) => m === MEDIA_TYPE_OCI_MANIFEST), 'manifests come after every blob');
    assert.deepEqual(dst.tagNames.sort(), ['a', 'b']);
  });

  it('pushes nothing the second time (journal) and nothing when the target has it (HEAD)', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new MemoryStore();
    const journal = new MemJournal();
    const targets = [{ root: root(a.desc, 'v1'), repository: 'app', sink: dst }];
    await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, targets, { journal });
    const pushes = dst.counts.push;
    const again = await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, targets, { journal });
    assert.equal(again.blobsPushed, 0);
    assert.equal(dst.counts.push, pushes);
    const fresh = await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, targets, { journal: new MemJournal() });
    assert.equal(fresh.blobsPushed, 0);
    assert.equal(fresh.present.length, 1);
  });

  it('from a sequential source: tags only roots whose blobs all arrived', async () => {
    const src = new MemoryStore();
    const a = image(src, ['only-a']);
    const b = image(src, ['only-b']);
    const plan = await planFor(src, [a.desc, b.desc]);
    const dst = new MemoryStore();
    const layerA = a.all[1]!;
    async function* entries(): AsyncIterable<SequentialBlob> {
      yield { desc: layerA, body: await src.fetch(layerA) };
    }
    const memory = new Map<Digest, Buffer>();
    for (const d of [a.all[0]!, b.all[0]!]) memory.set(d.digest, Buffer.concat(await (await src.fetch(d)).toArray()));
    const report = await executeCopy(plan, { kind: 'sequential', blobs: entries() }, [
      { root: root(a.desc, 'a'), repository: 'app', sink: dst },
      { root: root(b.desc, 'b'), repository: 'app', sink: dst },
    ], { memory });
    assert.deepEqual(dst.tagNames, ['a']);
    assert.equal(report.waiting.length, 1);
    assert.equal(report.waiting[0]!.missing.length, 1);
  });

  it('from a sequential source: pipelines pushes, reads to the end when it pushes anything, and skips the layers of a no-op only with stopWhenComplete', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2', 'l3']);
    const extra = blob('not needed by any root');
    src.put(extra.desc, extra.data);
    const plan = await planFor(src, [a.desc]);
    const memory = new Map<Digest, Buffer>([[a.all[0]!.digest, Buffer.concat(await (await src.fetch(a.all[0]!)).toArray())]]);
    for (const stopWhenComplete of [false, true]) {
      const read: string[] = [];
      async function* entries(): AsyncIterable<SequentialBlob> {
        for (const d of [...a.all.slice(1, 4), extra.desc]) {
          read.push(d.digest);
          yield { desc: d, body: await src.fetch(d) };
        }
      }
      const dst = new MemoryStore();
      let inFlight = 0;
      let maxInFlight = 0;
      const origPush = dst.push.bind(dst);
      dst.push = async (d, body, o) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await origPush(d, body, o);
          await new Promise((r) => setTimeout(r, 20)); // the registry's finishing work
        } finally {
          inFlight--;
        }
      };
      const report = await executeCopy(plan, { kind: 'sequential', blobs: entries() }, [{ root: root(a.desc, 'v'), repository: 'app', sink: dst }], { memory, stopWhenComplete });
      assert.deepEqual(dst.tagNames, ['v']);
      assert.equal(report.blobsPushed, 4); // config from memory, three layers
      assert.ok(maxInFlight > 1, 'a push was still finishing while the next entry was read');
      assert.equal(read.length, 4, 'a run that pushes reads every entry, so a bad tail is still found');
      read.length = 0;
      const again = await executeCopy(plan, { kind: 'sequential', blobs: entries() }, [{ root: root(a.desc, 'v'), repository: 'app', sink: dst }], { memory, stopWhenComplete });
      assert.equal(again.blobsPushed, 0);
      assert.equal(read.length, stopWhenComplete ? 0 : 4, 'a no-op reads no layer only with stopWhenComplete');
    }
  });

  it('stops with DIGEST_MISMATCH and pushes no manifest when a blob is corrupt', async () => {
    const src = new MemoryStore();
    const a = image(src, ['good', 'bad']);
    const plan = await planFor(src, [a.desc]);
    const dst = new MemoryStore();
    const bad = a.all[2]!;
    await assertRejectsCode(executeCopy(plan, {
      kind: 'random',
      fetch: async (d) => (d.digest === bad.digest ? Readable.from([Buffer.from('baX')]) : src.fetch(d)),
    }, [{ root: root(a.desc, 'v1'), repository: 'app', sink: dst }], { retries: 0 }), 'DIGEST_MISMATCH');
    assert.equal(await dst.exists(a.desc), false);
    assert.deepEqual(dst.tagNames, []);
  });

  it('walkGraph filters an index by platform into a new index and keeps the upstream digest', async () => {
    const src = new MemoryStore();
    const amd = image(src, ['amd']);
    const arm = image(src, ['arm']);
    const idx = blob(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX,
      manifests: [
        { ...amd.desc, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm.desc, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }), MEDIA_TYPE_OCI_INDEX);
    src.put(idx.desc, idx.data);
    const nodes = new Map<Digest, PlanNode>();
    const w = await walkGraph(src, idx.desc, nodes, { where: 't', origin: 'o', platforms: [{ os: 'linux', architecture: 'arm64' }] });
    assert.equal(w.upstreamDigest, idx.desc.digest);
    assert.notEqual(w.root.digest, idx.desc.digest);
    assert.ok(nodes.has(arm.desc.digest));
    assert.ok(!nodes.has(amd.desc.digest));
    await assertRejectsCode(walkGraph(src, idx.desc, new Map(), { where: 't', origin: 'o', platforms: [{ os: 'linux', architecture: 's390x' }] }), 'PLATFORM_UNAVAILABLE');
  });
});
