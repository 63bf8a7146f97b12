import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoCopy, skopeoInspectRaw, skopeoListTags } from '../../fixtures/harness/skopeo.js';

/** A minimal one-layer OCI layout written by hand, so this test does not depend on the fixture generator. */
async function tinyLayout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-tiny-'));
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer): Promise<{ digest: string; size: number }> => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = await put(Buffer.from('not really a tar, but registries do not care'));
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  }));
  const m = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  }));
  return dir;
}

describe('test harness: real Docker Distribution registry', () => {
  const variants: [string, Parameters<typeof startRegistry>[0]][] = [
    ['plain HTTP', {}],
    ['htpasswd basic auth', { auth: 'htpasswd' }],
    ['TLS with a test CA', { tls: true }],
    ['mTLS with basic auth', { mtls: true, auth: 'htpasswd' }],
  ];
  for (const [name, opts] of variants) {
    it(`${name}: skopeo pushes and reads back the same manifest bytes`, async (t) => {
      const reg: TestRegistry = await startRegistry(opts);
      t.after(() => reg.stop());
      const layout = await tinyLayout();
      t.after(() => rm(layout, { recursive: true, force: true }));
      const ref = parseReference(`${reg.host}/harness/tiny:v1`);
      assert.equal(ref.registry, reg.host);
      await skopeoCopy(`oci:${layout}:v1`, `docker://${ref.registry}/${ref.repository}:${ref.tag}`, { dest: reg });
      const raw = await skopeoInspectRaw(`docker://${reg.host}/harness/tiny:v1`, reg);
      assert.equal(JSON.parse(raw.toString()).schemaVersion, 2);
      assert.deepEqual(await skopeoListTags(`docker://${reg.host}/harness/tiny`, reg), ['v1']);
    });
  }
});
