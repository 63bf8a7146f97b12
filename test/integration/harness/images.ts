/**
 * Ad-hoc random images for tests, in the spirit of go-containerregistry's pkg/v1/random: a small
 * OCI layout in a temp dir with one root named `ref`. Content is random-looking but a pure function
 * of `seed`, so a failing test can be replayed by its seed.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LayoutWriter, descendants, writeImage, writeIndex, writeLayer, type BuiltImage, type FixtureBlob, type LayerSpec,
} from '../../../scripts/fixtures/index.js';
import { MEDIA_TYPE_OCI_LAYER_GZIP, parsePlatform, type Descriptor } from '../../../src/oci/index.js';

export interface RandomImageOptions {
  /** Layers per image. Default 1. */
  readonly layers?: number;
  /** Content bytes per layer (incompressible, so the blob is a little larger). Default 1024. */
  readonly size?: number;
  /** e.g. ['linux/amd64', 'linux/arm64']: more than one makes an OCI index. Default one linux/amd64 manifest. */
  readonly platforms?: readonly string[];
  /** Default: a fresh random seed (reported in the result). */
  readonly seed?: number;
  /** Directory for the layout; default a new temp dir. */
  readonly dir?: string;
  /** Name of the root in index.json. Default 'latest'. */
  readonly ref?: string;
}

export interface RandomImage {
  readonly dir: string;
  readonly ref: string;
  /** `oci:DIR:REF`, for skopeo. */
  readonly ociRef: string;
  readonly seed: number;
  readonly digest: Descriptor['digest'];
  readonly mediaType: string;
  readonly size: number;
  /** Everything below the root (child manifests, configs, layers). */
  readonly blobs: readonly FixtureBlob[];
  remove(): Promise<void>;
}

export async function randomImage(opts: RandomImageOptions = {}): Promise<RandomImage> {
  const seed = opts.seed ?? randomInt(2 ** 31);
  const ref = opts.ref ?? 'latest';
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'airlock-random-')));
  const layout = await LayoutWriter.create(dir);
  const platforms = (opts.platforms?.length ? opts.platforms : ['linux/amd64']).map((p) => parsePlatform(p));
  const images: BuiltImage[] = [];
  for (const platform of platforms) {
    const tag = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('-');
    const layers = [];
    for (let i = 0; i < (opts.layers ?? 1); i++) {
      const size = opts.size ?? 1024;
      const spec: LayerSpec = { id: `random-${tag}-${i}`, root: `random/${tag}/${i}`, files: Math.max(1, Math.ceil(size / 65536)), bytes: size, randomShare: 1 };
      const { descriptor, diffId } = await writeLayer(layout, spec, seed, MEDIA_TYPE_OCI_LAYER_GZIP, { level: 1, huffmanOnly: false });
      layers.push({ spec, blob: descriptor, diffId });
    }
    images.push(await writeImage(layout, { name: 'random', tag, format: 'oci', platform, layers }));
  }
  const only = images[0];
  const root = images.length === 1 && only ? only.manifest : await writeIndex(layout, images);
  const bare = { mediaType: root.mediaType, digest: root.digest, size: root.size };
  layout.addRef(bare, ref);
  await layout.finish();
  return {
    dir,
    ref,
    ociRef: `oci:${dir}:${ref}`,
    seed,
    digest: root.digest,
    mediaType: root.mediaType,
    size: root.size,
    blobs: (await descendants(dir, bare)).map((d) => ({ digest: d.digest, size: d.size, mediaType: d.mediaType })),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
