import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, ANNOTATION_REF_NAME,
  type Digest,
} from '../../../src/oci/index.js';
import type { AirlockManifest, BundleBlob, BundleArtifact } from '../../../src/bundle/index.js';

export function sha256(data: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export { tempDir } from '../archive/temp.js';

export interface StagedLayout {
  readonly dir: string;
  /** Blob bytes by digest. */
  readonly blobs: Map<Digest, Buffer>;
  readonly records: BundleBlob[];
  readonly artifacts: BundleArtifact[];
  /** manifests, then configs, then layers */
  readonly order: Digest[];
  readonly metadata: Set<Digest>;
}

export interface StageOptions {
  /** Layer sizes per image; one image per entry. */
  readonly images?: readonly (readonly number[])[];
  /** Wrap the images in one multi-arch index. */
  readonly index?: boolean;
}

/** A staged OCI layout with random layers and minimal valid manifests, all made in code. */
export async function stageLayout(dir: string, opts: StageOptions = {}): Promise<StagedLayout> {
  const images = opts.images ?? [[3000, 70_000], [1, 0, 5000]];
  const blobs = new Map<Digest, Buffer>();
  const records: BundleBlob[] = [];
  const manifests: Digest[] = [];
  const configs: Digest[] = [];
  const layers: Digest[] = [];
  const put = (data: Buffer, mediaType: string, list: Digest[]): { mediaType: string; digest: Digest; size: number } => {
    const digest = sha256(data);
    if (!blobs.has(digest)) {
      blobs.set(digest, data);
      records.push({ digest, size: data.length, mediaType, location: 'bundle' });
      list.push(digest);
    }
    return { mediaType, digest, size: data.length };
  };
  const roots: { mediaType: string; digest: Digest; size: number }[] = [];
  images.forEach((sizes, i) => {
    const layerDescs = sizes.map((n) => put(randomBytes(n), MEDIA_TYPE_OCI_LAYER_GZIP, layers));
    const config = put(Buffer.from(JSON.stringify({ architecture: `arch${i}`, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })), MEDIA_TYPE_OCI_CONFIG, configs);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config, layers: layerDescs }));
    roots.push(put(manifest, MEDIA_TYPE_OCI_MANIFEST, manifests));
  });
  let indexRoots = roots;
  if (opts.index) {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: roots.map((r, i) => ({ ...r, platform: { os: 'linux', architecture: `arch${i}` } })) }));
    indexRoots = [put(idx, MEDIA_TYPE_OCI_INDEX, manifests)];
  }
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [d, data] of blobs) await writeFile(join(dir, 'blobs', 'sha256', d.slice(7)), data);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const artifacts: BundleArtifact[] = indexRoots.map((r, i) => ({
    kind: 'image', source: `example.com/app${i}:1.0@${r.digest}`, repository: `example.com/app${i}`, tag: '1.0',
    digest: r.digest, mediaType: r.mediaType, size: r.size,
  }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: indexRoots.map((r, i) => ({ ...r, annotations: { [ANNOTATION_REF_NAME]: `example.com/app${i}:1.0` } })),
  }));
  return { dir, blobs, records, artifacts, order: [...manifests, ...configs, ...layers], metadata: new Set([...manifests, ...configs]) };
}

export function airlockManifest(staged: StagedLayout, extra: Partial<AirlockManifest> = {}): AirlockManifest {
  return {
    version: 1,
    created: '2025-01-01T00:00:00Z',
    tool: { name: 'airlock', version: '0.1.0' },
    bases: [],
    artifacts: staged.artifacts,
    blobs: staged.records,
    ...extra,
  };
}

export function airlockJson(m: AirlockManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`);
}

import { createReadStream } from 'node:fs';
import {
  applyVolumePlan, computePieceDigests, planVolumes, writeBundle, type OutputForm, type VolumePlan, type WriteBundleResult,
} from '../../../src/bundle/index.js';

export interface ExportResult extends WriteBundleResult {
  readonly manifest: AirlockManifest;
  readonly raw: Buffer;
  readonly plan?: VolumePlan;
  readonly signature: Buffer;
}

/** What `bundle export` will do with this module: plan volumes, hash pieces, finalise airlock.json, write. */
export async function exportBundle(staged: StagedLayout, output: string, form: OutputForm, split?: number): Promise<ExportResult> {
  const signature = Buffer.from(JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', fake: true }));
  let manifest = airlockManifest(staged);
  let plan: VolumePlan | undefined;
  if (split !== undefined) {
    const frontBytes = airlockJson(manifest).length + signature.length + 2 * 1024 + 4096;
    plan = planVolumes(staged.records.map((b) => ({ ...b, metadata: staged.metadata.has(b.digest) })), { maxSize: split, compressed: form === 'tar.zst', frontBytes });
    const pieces = await computePieceDigests(plan, (d) => createReadStream(join(staged.dir, 'blobs', 'sha256', d.slice(7))));
    const applied = applyVolumePlan(staged.records, plan, pieces);
    manifest = { ...manifest, blobs: applied.blobs, volumes: applied.volumes };
  }
  const raw = airlockJson(manifest);
  const result = await writeBundle({
    layoutDir: staged.dir, airlockJson: raw, signature, output, form, order: staged.order, ...(plan ? { volumes: plan } : {}),
  });
  return { ...result, manifest, raw, signature, ...(plan ? { plan } : {}) };
}
