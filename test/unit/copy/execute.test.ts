import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStore, canCheckTags, type CallOptions, type TagOptions } from '../../../src/content/index.js';
import {
  executeCopy, walkGraph, type CopyEvent, type CopyPlan, type Journal, type PlanNode, type PlannedRoot, type RootTarget, type SequentialBlob,
} from '../../../src/copy/index.js';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor, type Digest,
} from '../../../src/oci/index.js';
import { AirlockError } from '../../../src/errors.js';
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
  for (const r of roots) await walkGraph(src, r, nodes, { where: 'test', origin: { kind: 'registry', registry: 'example.com', repository: 'app' } });
  // The tests bind their own targets to executeCopy; the plan names none.
  return { roots: roots.map((r) => root(r)), nodes, targets: [] };
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

  it('checkEveryBlob: a sink holding the root but not a layer gets the layer; without it the present root stands for its graph', async () => {
    const src = new MemoryStore();
    const a = image(src, ['kept', 'lost']);
    const [config, kept, lost, manifest] = a.all;
    const plan = await planFor(src, [a.desc]);
    // The download cache after the bundle that held a layer moved: the manifest, the config and
    // one layer are still there, the other layer is not.
    const sinkWithout = async (): Promise<MemoryStore> => {
      const dst = new MemoryStore();
      for (const d of [config!, kept!, manifest!]) dst.put(d, Buffer.concat(await (await src.fetch(d)).toArray()));
      return dst;
    };
    const fetched: Digest[] = [];
    const supply = { kind: 'random' as const, fetch: async (d: Descriptor) => (fetched.push(d.digest), src.fetch(d)) };

    const plain = await sinkWithout();
    const before = await executeCopy(plan, supply, [{ root: root(a.desc), repository: 'cache', sink: plain }]);
    assert.equal(before.blobsPushed, 0);
    assert.equal(before.present.length, 1);
    assert.equal(await plain.exists(lost!), false, 'without checkEveryBlob the layer stays missing');
    assert.deepEqual(fetched, []);

    const checked = await sinkWithout();
    const events: CopyEvent[] = [];
    const report = await executeCopy(plan, supply, [{ root: root(a.desc), repository: 'cache', sink: checked }], {
      checkEveryBlob: true, onEvent: (e) => events.push(e),
    });
    assert.equal(report.blobsPushed, 1);
    assert.equal(report.bytesPushed, lost!.size);
    assert.equal(report.blobsExisting, 2, 'the config and the other layer were asked for, and there');
    assert.equal(report.manifestsPushed, 0, 'the manifest is there: not pushed again');
    assert.equal(report.present.length, 1);
    assert.equal(report.completed.length, 1);
    assert.deepEqual(fetched, [lost!.digest]);
    assert.equal(await checked.exists(lost!), true);
    assert.deepEqual(events.filter((e) => e.type === 'blob-done' && e.how === 'copied').map((e) => (e as { digest: Digest }).digest), [lost!.digest]);

    // A second run with everything there: asks, pushes nothing.
    fetched.length = 0;
    const again = await executeCopy(plan, supply, [{ root: root(a.desc), repository: 'cache', sink: checked }], { checkEveryBlob: true });
    assert.equal(again.blobsPushed, 0);
    assert.equal(again.blobsExisting, 3);
    assert.deepEqual(fetched, []);
  });

  it('checkEveryBlob with a tagged root whose tag points at it: the tag stands for the root only, the blobs are still asked for', async () => {
    const src = new MemoryStore();
    const a = image(src, ['one', 'two']);
    const [config, one, two, manifest] = a.all;
    const plan = await planFor(src, [a.desc]);
    const dst = new TagCheckingStore();
    for (const d of [config!, one!, manifest!]) dst.put(d, Buffer.concat(await (await src.fetch(d)).toArray()));
    await dst.tag(manifest!, 'v1');
    const report = await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, [{ root: root(a.desc, 'v1'), repository: 'cache', sink: dst }], { checkEveryBlob: true });
    assert.equal(report.blobsPushed, 1);
    assert.equal(await dst.exists(two!), true);
    assert.equal(report.tagsSet, 0, 'the tag already pointed at the root');
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
    const w = await walkGraph(src, idx.desc, nodes, { where: 't', origin: { kind: 'registry', registry: 'o', repository: 'o' }, platforms: [{ os: 'linux', architecture: 'arm64' }] });
    assert.equal(w.upstreamDigest, idx.desc.digest);
    assert.notEqual(w.root.digest, idx.desc.digest);
    assert.ok(nodes.has(arm.desc.digest));
    assert.ok(!nodes.has(amd.desc.digest));
    await assertRejectsCode(walkGraph(src, idx.desc, new Map(), { where: 't', origin: { kind: 'registry', registry: 'o', repository: 'o' }, platforms: [{ os: 'linux', architecture: 's390x' }] }), 'PLATFORM_UNAVAILABLE');
  });
});

/** A MemoryStore that answers tagPointsAt (canCheckTags) and records what it is asked. */
class TagCheckingStore extends MemoryStore {
  readonly tagChecks: { digest: Digest; tag: string; opts: CallOptions | undefined }[] = [];
  readonly existsAsked: Digest[] = [];
  readonly tagCalls: { digest: Digest; tag: string; opts: TagOptions | undefined }[] = [];

  async tagPointsAt(desc: Descriptor, tag: string, opts?: CallOptions): Promise<boolean> {
    this.tagChecks.push({ digest: desc.digest, tag, opts });
    const d = await this.resolve(tag).catch(() => undefined);
    return d?.digest === desc.digest;
  }

  override async exists(desc: Descriptor): Promise<boolean> {
    this.existsAsked.push(desc.digest);
    return super.exists(desc);
  }

  override async tag(desc: Descriptor, tag: string, opts?: TagOptions): Promise<void> {
    this.tagCalls.push({ digest: desc.digest, tag, opts });
    return super.tag(desc, tag);
  }

  /** Forget what was asked so far (the test's setup). */
  reset(): void {
    this.tagChecks.length = 0;
    this.existsAsked.length = 0;
    this.tagCalls.length = 0;
  }
}

describe('executeCopy with a sink that checks tags (tagPointsAt)', () => {
  const noFetch = { kind: 'random' as const, fetch: async (d: Descriptor): Promise<Readable> => assert.fail(`fetched ${d.digest}`) };
  const run = async (plan: CopyPlan, targets: RootTarget[], opts: { journal?: Journal; signal?: AbortSignal; dryRun?: boolean; fetch?: (d: Descriptor) => Promise<Readable> } = {}) => {
    const events: CopyEvent[] = [];
    const report = await executeCopy(plan, opts.fetch ? { kind: 'random', fetch: opts.fetch } : noFetch, targets, {
      onEvent: (e) => events.push(e),
      ...(opts.journal ? { journal: opts.journal } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    });
    return { report, events };
  };

  it('is a capability MemoryStore alone does not have', () => {
    assert.equal(canCheckTags(new MemoryStore()), false);
    assert.equal(canCheckTags(new TagCheckingStore()), true);
  });

  it('a tag that points at the root: the root\'s graph counts as present, exists() is not asked, the tag is not set again, tag-done is still emitted', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new TagCheckingStore();
    image(dst, ['l1', 'l2'], 'v1'); // the same image, tagged v1
    assert.equal((await dst.resolve('v1')).digest, a.desc.digest);
    dst.reset();
    const pushes = dst.counts.push;
    const target = { root: root(a.desc, 'v1'), repository: 'app', sink: dst };

    const dry = await run(plan, [target], { dryRun: true });
    assert.deepEqual(dry.report.present, [target]);
    assert.deepEqual(dry.report.toPush, []);
    assert.deepEqual(dst.existsAsked, []);
    dst.reset();

    const { report, events } = await run(plan, [target]);
    assert.deepEqual(dst.tagChecks, [{ digest: a.desc.digest, tag: 'v1', opts: {} }], 'one tag check');
    assert.deepEqual(dst.existsAsked, [], 'no exists() for the root or anything below it');
    assert.deepEqual(dst.tagCalls, [], 'the tag is not set again');
    assert.equal(dst.counts.push, pushes);
    assert.equal(report.tagsSet, 0);
    assert.equal(report.blobsPushed + report.manifestsPushed + report.blobsExisting, 0);
    assert.deepEqual(report.present, [target]);
    assert.deepEqual(report.completed, [target]);
    assert.deepEqual(events.filter((e) => e.type === 'tag-done'), [{ type: 'tag-done', repository: 'app', tag: 'v1', digest: a.desc.digest }]);
    assert.equal(events.filter((e) => e.type === 'root-done').length, 1);
    assert.equal(events.filter((e) => e.type === 'blob-done').length, 0);
  });

  it('a tag that points elsewhere: exists() is asked next, everything is pushed, and the tag is moved with known: elsewhere', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new TagCheckingStore();
    const old = image(dst, ['old'], 'v1');
    assert.equal((await dst.resolve('v1')).digest, old.desc.digest);
    dst.reset();
    const ac = new AbortController();
    const target = { root: root(a.desc, 'v1'), repository: 'app', sink: dst };
    const { report, events } = await run(plan, [target], { signal: ac.signal, fetch: (d) => src.fetch(d) });
    assert.deepEqual(dst.tagChecks, [{ digest: a.desc.digest, tag: 'v1', opts: { signal: ac.signal } }]);
    assert.equal(dst.existsAsked[0], a.desc.digest, 'exists() for the root right after the tag check');
    assert.deepEqual(new Set(dst.existsAsked), new Set(a.all.map((d) => d.digest)), 'then for what is below it');
    assert.deepEqual(dst.tagCalls, [{ digest: a.desc.digest, tag: 'v1', opts: { signal: ac.signal, known: 'elsewhere' } }]);
    assert.equal(report.tagsSet, 1);
    assert.equal(report.blobsPushed, 3);
    assert.equal(report.manifestsPushed, 1);
    assert.deepEqual(report.present, []);
    assert.equal((await dst.resolve('v1')).digest, a.desc.digest, 'the tag moved');
    assert.equal(events.filter((e) => e.type === 'tag-done').length, 1);
  });

  it('no such tag but the root is there: exists() answers, nothing is pushed, and the tag is set with known: elsewhere', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new TagCheckingStore();
    image(dst, ['l1', 'l2']); // untagged
    dst.reset();
    const pushes = dst.counts.push;
    const target = { root: root(a.desc, 'v2'), repository: 'app', sink: dst };
    const { report } = await run(plan, [target]);
    assert.deepEqual(dst.tagChecks.map((c) => c.tag), ['v2']);
    assert.deepEqual(dst.existsAsked, [a.desc.digest], 'one exists() for the root; its graph follows from it');
    assert.equal(dst.counts.push, pushes);
    assert.deepEqual(report.present, [target]);
    assert.deepEqual(dst.tagCalls, [{ digest: a.desc.digest, tag: 'v2', opts: { known: 'elsewhere' } }]);
    assert.equal(report.tagsSet, 1);
  });

  it('the journal holds the tag: tagPointsAt is not asked and the tag is not set; it holds only the root: asked neither, the tag set without known', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new TagCheckingStore();
    image(dst, ['l1', 'l2'], 'v1');
    dst.reset();
    const target = { root: root(a.desc, 'v1'), repository: 'app', sink: dst };

    const tagged = new MemJournal();
    tagged.keys.add(`tag app v1@${a.desc.digest}`);
    const first = await run(plan, [target], { journal: tagged });
    assert.deepEqual(dst.tagChecks, []);
    assert.deepEqual(dst.existsAsked, [a.desc.digest], 'the root is asked for with exists() instead');
    assert.deepEqual(dst.tagCalls, []);
    assert.equal(first.report.tagsSet, 0);
    assert.equal(first.events.filter((e) => e.type === 'tag-done').length, 1);
    dst.reset();

    const rootOnly = new MemJournal();
    rootOnly.keys.add(`manifest app ${a.desc.digest}`);
    for (const d of a.all.slice(0, -1)) rootOnly.keys.add(`blob app ${d.digest}`);
    const second = await run(plan, [target], { journal: rootOnly });
    assert.deepEqual(dst.tagChecks, [], 'a root the journal holds is not asked for');
    assert.deepEqual(dst.existsAsked, []);
    assert.deepEqual(dst.tagCalls, [{ digest: a.desc.digest, tag: 'v1', opts: {} }], 'nothing known about the tag');
    assert.equal(second.report.tagsSet, 1);
    assert.ok(rootOnly.has(`tag app v1@${a.desc.digest}`), 'the tag recorded');
  });

  it('a root without a tag is asked with exists() only; two tagged roots are answered each on its own', async () => {
    const src = new MemoryStore();
    const a = image(src, ['a1']);
    const b = image(src, ['b1']);
    const c = image(src, ['c1']);
    const plan = await planFor(src, [a.desc, b.desc, c.desc]);
    const dst = new TagCheckingStore();
    image(dst, ['a1'], 'a'); // a: tagged already
    image(dst, ['c1']); // c: there, untagged root
    dst.reset();
    const targets = [
      { root: root(a.desc, 'a'), repository: 'app', sink: dst },
      { root: root(b.desc, 'b'), repository: 'app', sink: dst },
      { root: root(c.desc), repository: 'app', sink: dst },
    ];
    const { report, events } = await run(plan, targets, { fetch: (d) => src.fetch(d) });
    assert.deepEqual(dst.tagChecks.map((x) => [x.digest, x.tag]).sort(), [[a.desc.digest, 'a'], [b.desc.digest, 'b']].sort());
    assert.ok(!dst.existsAsked.includes(a.desc.digest), 'a: answered by its tag');
    assert.ok(dst.existsAsked.includes(b.desc.digest));
    assert.ok(dst.existsAsked.includes(c.desc.digest), 'c: no tag, exists()');
    assert.deepEqual(dst.tagCalls, [{ digest: b.desc.digest, tag: 'b', opts: { known: 'elsewhere' } }]);
    assert.equal(report.tagsSet, 1);
    assert.deepEqual(new Set(report.present), new Set([targets[0], targets[2]]));
    assert.equal(report.completed.length, 3);
    assert.deepEqual(events.filter((e) => e.type === 'tag-done').map((e) => (e as { tag: string }).tag).sort(), ['a', 'b']);
    assert.deepEqual(dst.tagNames.sort(), ['a', 'b']);
  });
});

/** A MemoryStore that can mount, as a registry repository can, but whose registry never does (Nexus). */
class RefusingMountStore extends MemoryStore {
  readonly mounts: string[] = [];
  async mount(desc: Descriptor, from: string): Promise<boolean> {
    this.mounts.push(`${from} ${desc.digest}`);
    return false;
  }
}

describe('executeCopy into repositories whose registry refuses mounts', () => {
  it('from a sequential source: the other repositories get the blob read back from the first one, and every root is tagged', async () => {
    const src = new MemoryStore();
    const a = image(src, ['shared', 'only-a']);
    const b = image(src, ['shared', 'only-b']);
    const plan = await planFor(src, [a.desc, b.desc]);
    const repoA = new RefusingMountStore();
    const repoB = new RefusingMountStore();
    const memory = new Map<Digest, Buffer>();
    for (const d of [a.all[0]!, b.all[0]!]) memory.set(d.digest, Buffer.concat(await (await src.fetch(d)).toArray()));
    async function* entries(): AsyncIterable<SequentialBlob> {
      for (const d of [a.all[1]!, a.all[2]!, b.all[2]!]) yield { desc: d, body: await src.fetch(d) };
    }
    const report = await executeCopy(plan, { kind: 'sequential', blobs: entries() }, [
      { root: root(a.desc, 'a'), repository: 'a', sink: repoA },
      { root: root(b.desc, 'b'), repository: 'b', sink: repoB },
    ], { memory });
    assert.deepEqual(report.waiting, []);
    assert.deepEqual(repoA.tagNames, ['a']);
    assert.deepEqual(repoB.tagNames, ['b']);
    assert.equal(report.blobsMounted, 0);
    assert.equal(repoB.mounts.length, 1, 'the mount was tried first');
    assert.equal(repoA.counts.fetch, 1, 'the shared blob was read back from the repository that held it');
    assert.ok(await repoB.exists(a.all[1]!));
  });
});

describe('executeCopy beforeWrite', () => {
  it('is called once, before the first write, with the repositories to write to and the manifests to push; a no-op run does not call it', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1']);
    const b = image(src, ['l2']);
    const plan = await planFor(src, [a.desc, b.desc]);
    const dstA = new TagCheckingStore();
    const dstB = new TagCheckingStore();
    image(dstB, ['l2'], 'b'); // b is already there, tagged (and the store can say so)
    const calls: { repositories: readonly string[]; manifests: string[]; pushesBefore: number }[] = [];
    const targets = [
      { root: root(a.desc, 'a'), repository: 'repo-a', sink: dstA },
      { root: root(b.desc, 'b'), repository: 'repo-b', sink: dstB },
    ];
    const fetch = { kind: 'random' as const, fetch: (d: Descriptor) => src.fetch(d) };
    await executeCopy(plan, fetch, targets, {
      beforeWrite: async (p) => {
        calls.push({ repositories: p.repositories, manifests: p.manifests.map((m) => `${m.repository} ${m.desc.mediaType} ${m.roots.map((r) => r.tag).join(',')}`), pushesBefore: dstA.counts.push + dstB.counts.push });
      },
    });
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.repositories, ['repo-a']);
    assert.deepEqual(calls[0]!.manifests, [`repo-a ${MEDIA_TYPE_OCI_MANIFEST} a`]);
    assert.equal(calls[0]!.pushesBefore, 0);
    await executeCopy(plan, fetch, targets, { beforeWrite: async () => void calls.push({ repositories: [], manifests: [], pushesBefore: -1 }) });
    assert.equal(calls.length, 1, 'a run with nothing to write called beforeWrite');
  });

  it('a rejection stops the run with nothing written', async () => {
    const src = new MemoryStore();
    const a = image(src, ['l1', 'l2']);
    const plan = await planFor(src, [a.desc]);
    const dst = new MemoryStore();
    await assertRejectsCode(executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, [{ root: root(a.desc, 'v'), repository: 'app', sink: dst }], {
      beforeWrite: async () => {
        throw new AirlockError('PROJECT_MISSING', 'no project');
      },
    }), 'PROJECT_MISSING');
    assert.equal(dst.counts.push, 0);
    assert.equal(dst.counts.tag, 0);
  });
});

describe('executeCopy: what the sink holds is asked, not assumed (issue 17.1)', () => {
  it('an index the sink holds with a child manifest gone (garbage-collect --delete-untagged) gets that child and its blobs again', async () => {
    const src = new MemoryStore();
    const amd = image(src, ['amd-layer']);
    const arm = image(src, ['arm-layer']);
    const index = blob(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [amd.desc, arm.desc] }), MEDIA_TYPE_OCI_INDEX);
    src.put(index.desc, index.data);
    const plan = await planFor(src, [index.desc]);
    // The target: the index and the amd64 image, the arm64 image collected away.
    const dst = new MemoryStore();
    for (const d of [...amd.all, index.desc]) dst.put(d, (await readAll(await src.fetch(d))));
    const report = await executeCopy(plan, { kind: 'random', fetch: (d) => src.fetch(d) }, [{ root: plan.roots[0]!, repository: 'app', sink: dst }]);
    for (const d of arm.all) assert.equal(await dst.exists(d), true, `${d.mediaType} pushed again`);
    assert.equal(report.manifestsPushed, 1);
    assert.equal(report.blobsPushed, 2);
  });
});

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
