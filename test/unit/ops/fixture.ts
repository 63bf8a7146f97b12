import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockManifest, BundleArtifact, BundleBase, BundleBlob } from '../../../src/bundle/index.js';
import type { Receipt } from '../../../src/deploy/index.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, type Digest } from '../../../src/oci/index.js';

/** A stable fake digest named by a word, so tables read well: d('base-os'). */
export function d(name: string): Digest {
  return `sha256:${createHash('sha256').update(name).digest('hex')}` as Digest;
}

export interface FakeImage {
  readonly repository: string;
  readonly tag?: string;
  /** Names of the manifest, the config and the layers (sizes: manifest 500, config 1000, layers by `sizes`). */
  readonly manifest: string;
  readonly config: string;
  readonly layers: readonly string[];
}

export const SIZES: Record<string, number> = {};
export const sizeOf = (name: string): number => SIZES[name] ?? 10_000;

/** A minimal valid airlock.json describing `images`; blobs in `baseHeld` are marked as left to `bases`. */
export function fakeManifest(images: readonly FakeImage[], opts: { bases?: readonly BundleBase[]; baseHeld?: ReadonlySet<string> } = {}): AirlockManifest {
  const blobs = new Map<Digest, BundleBlob>();
  const artifacts: BundleArtifact[] = [];
  const baseIds = (opts.bases ?? []).map((b) => b.id);
  const add = (name: string, mediaType: string, size: number): void => {
    const held = opts.baseHeld?.has(name) ?? false;
    blobs.set(d(name), held ? { digest: d(name), size, mediaType, location: 'base', bases: baseIds } : { digest: d(name), size, mediaType, location: 'bundle' });
  };
  for (const img of images) {
    add(img.manifest, MEDIA_TYPE_OCI_MANIFEST, 500);
    add(img.config, MEDIA_TYPE_OCI_CONFIG, 1000);
    for (const l of img.layers) add(l, MEDIA_TYPE_OCI_LAYER_GZIP, sizeOf(l));
    artifacts.push({
      kind: 'image', source: `${img.repository}${img.tag !== undefined ? `:${img.tag}` : ''}@${d(img.manifest)}`, repository: img.repository,
      ...(img.tag !== undefined ? { tag: img.tag } : {}), digest: d(img.manifest), mediaType: MEDIA_TYPE_OCI_MANIFEST, size: 500,
    });
  }
  return {
    version: 1, created: '2026-01-01T00:00:00.000Z', tool: { name: 'airlock', version: 'test' },
    bases: opts.bases ?? [], artifacts, blobs: [...blobs.values()],
  };
}

export async function writeJson(dir: string, name: string, doc: unknown): Promise<{ path: string; raw: Buffer; id: Digest }> {
  const raw = Buffer.from(`${JSON.stringify(doc, null, 1)}\n`);
  const path = join(dir, name);
  await writeFile(path, raw);
  return { path, raw, id: `sha256:${createHash('sha256').update(raw).digest('hex')}` as Digest };
}

export function fakeReceipt(bundleId: Digest, digests: readonly Digest[], artifacts: Receipt['artifacts'] = []): Receipt {
  return {
    version: 1, kind: 'airlock-receipt', bundleId, bases: [], target: 'registry.site:5000', layout: 'flat',
    started: '2026-01-02T00:00:00.000Z', finished: '2026-01-02T00:01:00.000Z', complete: true, artifacts, digests,
  };
}

export const APP1: FakeImage = { repository: 'r.example/demo/app', tag: '1.0', manifest: 'app1-m', config: 'app1-c', layers: ['base-os', 'runtime', 'code-1'] };
export const APP2: FakeImage = { repository: 'r.example/demo/app', tag: '2.0', manifest: 'app2-m', config: 'app2-c', layers: ['base-os', 'runtime', 'code-2', 'assets-2'] };
export const API1: FakeImage = { repository: 'r.example/demo/api', tag: '1.0', manifest: 'api1-m', config: 'api1-c', layers: ['base-os', 'api'] };
