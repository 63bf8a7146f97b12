/**
 * Many small images for planning at scale (issue 24: a 10,000-image mirror list): `count` images
 * over `count / perRepository` repositories, each a distinct manifest (an annotation numbers it)
 * over one shared config and one shared tiny layer, pushed by digest with the harness's own HTTP
 * pusher: one PUT per image, so 10,000 seed in well under a minute. The mirror list pins each by
 * digest (`repo@sha256:…`), which is how lock-file driven mirror lists look.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { endpointOf, pushBlob, pushManifest } from './oci-http.js';
import type { TestRegistry } from './registry.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, type Digest } from '../../../src/oci/index.js';
import { forEachConcurrent } from '../../../src/util/index.js';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

export interface ManyImages {
  /** The mirror list naming every image by digest. */
  readonly list: string;
  readonly images: number;
  readonly repositories: number;
}

export async function seedManyImages(reg: TestRegistry, count: number, work: string, opts: { perRepository?: number; concurrency?: number } = {}): Promise<ManyImages> {
  const per = opts.perRepository ?? 20;
  const dir = join(work, 'many');
  await mkdir(dir, { recursive: true });
  const ep = endpointOf(reg);
  const layer = Buffer.from('1f8b08000000000000ff030000000000000000', 'hex'); // an empty gzip stream
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(Buffer.alloc(0))] } }));
  await writeFile(join(dir, 'layer'), layer);
  await writeFile(join(dir, 'config'), config);
  const repos = Math.ceil(count / per);
  const refs: string[] = new Array<string>(count);
  await forEachConcurrent(Array.from({ length: repos }, (_, r) => r), opts.concurrency ?? 16, async (r) => {
    const repository = `many/r${String(r).padStart(5, '0')}`;
    await pushBlob(ep, repository, sha(layer), join(dir, 'layer'));
    await pushBlob(ep, repository, sha(config), join(dir, 'config'));
    for (let i = r * per; i < Math.min(count, (r + 1) * per); i++) {
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
        config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: sha(config), size: config.length },
        layers: [{ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: sha(layer), size: layer.length }],
        annotations: { 'org.airlock.test.image': String(i) },
      }));
      const digest = sha(manifest);
      await pushManifest(ep, repository, digest, MEDIA_TYPE_OCI_MANIFEST, manifest);
      refs[i] = `${reg.host}/${repository}@${digest}`;
    }
  });
  const list = join(work, 'many.yaml');
  await writeFile(list, ['version: 1', 'registries:', `  ${reg.host}: { tls: plain-http }`, 'images:', ...refs.map((r) => `  - ${r}`), ''].join('\n'));
  return { list, images: count, repositories: repos };
}
