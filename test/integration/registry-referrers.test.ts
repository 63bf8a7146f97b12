import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Descriptor } from '../../src/oci/index.js';
import { cosignTags, createRegistryClient, listCosignArtifacts, referrersTag, type RegistryRepository } from '../../src/registry/index.js';
import { startFaultProxy } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, testArtifact, testBlob, testImage, type TestContent } from '../../fixtures/harness/registry.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

async function pushAll(repo: RegistryRepository, content: TestContent, tag?: string): Promise<void> {
  for (const b of content.all) await repo.push(b.desc as Descriptor, Readable.from([b.data]));
  if (tag) await repo.tag(content.root.desc as Descriptor, tag);
}

describe('referrers', () => {
  it('tag fallback on Distribution: pushes keep the sha256-<hex> index, listing filters by artifactType, detection happens once', async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const paths: string[] = [];
    const client = createRegistryClient(reg.host, { tls: 'plain-http' }, { onRequest: (i) => paths.push(`${i.method} ${new URL(i.url).pathname}`) });
    t.after(() => client.close());
    const repo = client.repository('ref/app');
    const img = testImage('ref-subject', { layers: 1, layerSize: 100 });
    await pushAll(repo, img, 'v1');
    const sbom = testArtifact('ref-sbom', img.root, 'application/vnd.example.sbom.v1+json');
    const sig = testArtifact('ref-sig', img.root, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    await pushAll(repo, sbom);
    await pushAll(repo, sig);
    const subject = img.root.desc as Descriptor;
    const all = await repo.referrers(subject);
    assert.deepEqual(all.map((d) => d.digest).sort(), [sbom.root.desc.digest, sig.root.desc.digest].sort());
    assert.equal(all.find((d) => d.digest === sbom.root.desc.digest)?.artifactType, 'application/vnd.example.sbom.v1+json');
    const only = await repo.referrers(subject, { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });
    assert.deepEqual(only.map((d) => d.digest), [sig.root.desc.digest]);
    assert.equal(paths.filter((p) => p.includes('/referrers/')).length, 1, 'the API was tried once, then the fallback was cached');
    assert.equal(await client.supportsReferrersApi('ref/app'), false);
    // The fallback index is an ordinary tag other tools read.
    const index = JSON.parse((await skopeoInspectRaw(`docker://${reg.host}/ref/app:${referrersTag(subject.digest)}`, reg)).toString()) as { manifests: Descriptor[] };
    assert.equal(index.manifests.length, 2);
    assert.deepEqual(await repo.referrers({ ...subject, digest: `sha256:${'2'.repeat(64)}` } as Descriptor), []);
  });

  it('uses the referrers API where the registry answers it (API answered in front of Distribution), filtering locally when the registry did not', async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const proxy = await startFaultProxy({ upstream: reg.host });
    t.after(() => proxy.stop());
    const client = createRegistryClient(proxy.host, { tls: 'plain-http' });
    t.after(() => client.close());
    const repo = client.repository('api/app');
    const img = testImage('api-subject', { layers: 1, layerSize: 100 });
    await pushAll(repo, img, 'v1');
    const a = testArtifact('api-a', img.root, 'application/vnd.example.a');
    const b = testArtifact('api-b', img.root, 'application/vnd.example.b');
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [a.root.desc, b.root.desc] };
    proxy.setRules([{ method: 'GET', path: /\/referrers\//, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: JSON.stringify(index) } }]);
    const all = await repo.referrers(img.root.desc as Descriptor);
    assert.equal(all.length, 2);
    const onlyB = await repo.referrers(img.root.desc as Descriptor, { artifactType: 'application/vnd.example.b' });
    assert.deepEqual(onlyB.map((d) => d.digest), [b.root.desc.digest]);
    assert.equal(await client.supportsReferrersApi('api/app'), true);
    assert.equal(proxy.log.filter((l) => l.path.includes(`/manifests/${referrersTag(img.root.desc.digest as Descriptor['digest'])}`)).length, 0, 'no fallback lookups');
  });

  it("finds cosign's .sig, .att and .sbom tags", async (t) => {
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const client = createRegistryClient(reg.host, { tls: 'plain-http' });
    t.after(() => client.close());
    const repo = client.repository('cosign/app');
    const img = testImage('cosign-subject', { layers: 1, layerSize: 100 });
    await pushAll(repo, img, 'v1');
    const subject = img.root.desc as Descriptor;
    const payload = testBlob('application/vnd.dev.cosign.simplesigning.v1+json', Buffer.from('{"critical":{}}'));
    const config = testBlob('application/vnd.oci.image.config.v1+json', Buffer.from('{"architecture":"","os":""}'));
    const sigManifest = testBlob('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: config.desc,
      layers: [{ ...payload.desc, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
    })));
    await pushAll(repo, { root: sigManifest, all: [payload, config, sigManifest] }, cosignTags(subject.digest).sig);
    const found = await listCosignArtifacts(repo, subject);
    assert.deepEqual(found.map((f) => f.kind), ['sig']);
    assert.equal(found[0]!.desc.digest, sigManifest.desc.digest);
  });
});
