/**
 * Many small images for the planning benchmark: `count` images over `count / 20` repositories,
 * sharing one tiny layer, each with its own config (so every manifest digest differs), pushed
 * with the harness's independent HTTP pusher. Returns the mirror list naming every one of them.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { endpointOf, pushBlob, pushManifest } from '../../fixtures/harness/oci-http.js';
import type { TestRegistry } from '../../fixtures/harness/registry.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, type Digest } from '../../src/oci/index.js';
import { forEachConcurrent } from '../../src/util/index.js';

const TAGS_PER_REPO = 20;
const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

export async function seedBulk(reg: TestRegistry, count: number, work: string): Promise<string> {
  const dir = join(work, 'bulk');
  await mkdir(dir, { recursive: true });
  const ep = endpointOf(reg);
  const layer = Buffer.from('1f8b08000000000000ff030000000000000000', 'hex'); // an empty gzip stream
  const layerFile = join(dir, 'layer');
  await writeFile(layerFile, layer);
  const layerDigest = sha(layer);
  const repos = Math.ceil(count / TAGS_PER_REPO);
  const refs: string[] = [];
  await forEachConcurrent(Array.from({ length: repos }, (_, r) => r), 8, async (r) => {
    const repository = `bulk/r${String(r).padStart(4, '0')}`;
    await pushBlob(ep, repository, layerDigest, layerFile);
    for (let t = 0; t < TAGS_PER_REPO && r * TAGS_PER_REPO + t < count; t++) {
      const config = Buffer.from(JSON.stringify({
        architecture: 'amd64', os: 'linux', config: { Env: [`N=${r}-${t}`] }, rootfs: { type: 'layers', diff_ids: [sha(Buffer.alloc(0))] },
      }));
      const configFile = join(dir, `config-${r}-${t}`);
      await writeFile(configFile, config);
      await pushBlob(ep, repository, sha(config), configFile);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
        config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: sha(config), size: config.length },
        layers: [{ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: layerDigest, size: layer.length }],
      }));
      const tag = `t${String(t).padStart(2, '0')}`;
      await pushManifest(ep, repository, tag, MEDIA_TYPE_OCI_MANIFEST, manifest);
      refs.push(`${reg.host}/${repository}:${tag}`);
    }
  });
  const list = join(work, 'bulk.yaml');
  await writeFile(list, ['version: 1', 'registries:', `  ${reg.host}: { tls: plain-http }`, 'images:', ...refs.sort().map((r) => `  - ${r}`), ''].join('\n'));
  return list;
}
