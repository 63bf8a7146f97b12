import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, readVerified } from '../../../src/content/index.js';
import { PlanSource, describePlan, planCopy, walkGraph, type NodeSource, type PlanNode, type PlannedRoot } from '../../../src/copy/index.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

function blob(text: string, mediaType = MEDIA_TYPE_OCI_LAYER_GZIP): { desc: Descriptor; data: Buffer } {
  const data = Buffer.from(text);
  return { desc: { mediaType, digest: digestOf(data), size: data.length }, data };
}

/** An image in `store`: its manifest, config and layers. */
function image(store: MemoryStore, layers: string[]): { manifest: Descriptor; config: Descriptor; layers: Descriptor[] } {
  const cfg = blob(JSON.stringify({ layers }), MEDIA_TYPE_OCI_CONFIG);
  const ls = layers.map((l) => blob(l));
  const m = blob(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: cfg.desc, layers: ls.map((l) => l.desc) }), MEDIA_TYPE_OCI_MANIFEST);
  for (const b of [cfg, ...ls, m]) store.put(b.desc, b.data);
  return { manifest: m.desc, config: cfg.desc, layers: ls.map((l) => l.desc) };
}

const root = (desc: Descriptor, repository: string, tag?: string): PlannedRoot => {
  const [registry, ...path] = repository.split('/');
  return { kind: 'image', repository, registry: registry!, repositoryPath: path.join('/'), ...(tag !== undefined ? { tag } : {}), desc };
};

describe('planCopy and describePlan', () => {
  it('carries each root with its target, and describes roots, blobs (with where they come from) and totals without bytes', async () => {
    const reg = new MemoryStore();
    const arc = new MemoryStore();
    const a = image(reg, ['layer a', 'shared']);
    const b = image(arc, ['layer b, larger', 'shared']);
    const nodes = new Map<Digest, PlanNode>();
    const fromReg: NodeSource = { kind: 'registry', registry: 'r.example', repository: 'team/a' };
    const fromArc: NodeSource = { kind: 'local', id: '0:/x/b.tar', name: 'archive:b.tar' };
    await walkGraph(reg, a.manifest, nodes, { where: 'a', origin: fromReg });
    await walkGraph(arc, b.manifest, nodes, { where: 'b', origin: fromArc });
    const ra = root(a.manifest, 'r.example/team/a', '1.0');
    const rb = { ...root(b.manifest, 'ghcr.io/v/b'), source: 'ghcr.io/v/b@' + b.manifest.digest };
    const plan = planCopy({ roots: [ra, rb], nodes, targetOf: (r) => (r === ra ? 'mirror/team/a' : undefined) });
    assert.deepEqual(plan.targets, [{ root: ra, repository: 'mirror/team/a' }]);

    const d = describePlan(plan);
    // JSON-safe: a round trip changes nothing (no Buffers, no Maps).
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
    assert.deepEqual(d.roots, [
      { kind: 'image', source: `r.example/team/a:1.0@${a.manifest.digest}`, target: 'mirror/team/a', digest: a.manifest.digest, tag: '1.0' },
      { kind: 'image', source: `ghcr.io/v/b@${b.manifest.digest}`, digest: b.manifest.digest },
    ]);
    // Manifests, configs, then layers largest first; each blob once (the shared layer from where the walk found it first).
    assert.deepEqual(d.blobs.map((x) => x.kind), ['manifest', 'manifest', 'config', 'config', 'layer', 'layer', 'layer']);
    const layerSizes = d.blobs.filter((x) => x.kind === 'layer').map((x) => x.size);
    assert.deepEqual(layerSizes, [...layerSizes].sort((x, y) => y - x));
    assert.equal(d.blobs.find((x) => x.digest === b.layers[0]!.digest)?.from, 'archive:b.tar');
    assert.equal(d.blobs.find((x) => x.digest === a.layers[0]!.digest)?.from, 'r.example/team/a');
    const bytes = [...nodes.values()].reduce((s, n) => s + n.desc.size, 0);
    assert.equal(d.totals.roots, 2);
    assert.equal(d.totals.blobs, nodes.size);
    assert.equal(d.totals.bytes, bytes);
    assert.equal(Object.values(d.totals.byOrigin).reduce((s, t) => s + t.bytes, 0), bytes);
  });
});

describe('PlanSource', () => {
  it('fetches each node from the source its plan records, and names what it cannot fetch', async () => {
    const reg = new MemoryStore();
    const arc = new MemoryStore();
    const a = image(reg, ['from the registry']);
    const b = image(arc, ['from the archive']);
    const nodes = new Map<Digest, PlanNode>();
    await walkGraph(reg, a.manifest, nodes, { where: 'a', origin: { kind: 'registry', registry: 'r.example', repository: 'team/a' } });
    await walkGraph(arc, b.manifest, nodes, { where: 'b', origin: { kind: 'local', id: 'L', name: 'archive:b.tar' } });
    const asked: string[] = [];
    const src = new PlanSource(nodes, {
      registry: (registry, repository) => {
        asked.push(`${registry} ${repository}`);
        return reg;
      },
      local: (id) => (id === 'L' ? arc : undefined),
    });
    const read = async (d: Descriptor): Promise<string> => (await readVerified(await src.fetch(d), d, 1 << 20)).toString();
    assert.equal(await read(a.layers[0]!), 'from the registry');
    assert.equal(await read(b.layers[0]!), 'from the archive');
    assert.deepEqual(asked, ['r.example team/a'], 'the registry and repository are the ones recorded, not parsed again');
    assert.equal(src.isLocal(b.layers[0]!.digest), true);
    assert.equal(src.isLocal(a.layers[0]!.digest), false);
    assert.equal(await src.exists(b.config), true);
    assert.deepEqual(await src.resolve(a.manifest.digest), a.manifest);
    // A blob left to a base, or one the plan does not hold, has nowhere to come from.
    nodes.set(a.config.digest, { ...nodes.get(a.config.digest)!, origin: { kind: 'base', bases: ['sha256:' + '0'.repeat(64)] } });
    await assertRejectsCode(src.fetch(a.config), 'INTERNAL');
    await assertRejectsCode(src.resolve('latest'), 'NOT_FOUND');
  });
});
