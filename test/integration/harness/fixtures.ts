/**
 * Upstream test content for integration tests: `loadFixtures` generates (or reuses) a profile's
 * OCI layout; `seedRegistry` copies it into a test registry with skopeo, the independent client,
 * and pushes with the harness's own HTTP pusher only what skopeo 1.9.3 cannot carry (see
 * oci-http.ts). Nothing is cached across registries except the layouts on disk.
 */
import { join } from 'node:path';
import { forEachConcurrent } from '../../../src/util/index.js';
import {
  DEFAULT_SEED, ensureFixtures, type FixtureImage, type FixtureKind, type FixturesDescription, type ProfileName,
} from '../../../scripts/fixtures/index.js';
import { endpointOf, pushFromLayout } from './oci-http.js';
import type { TestRegistry } from './registry.js';
import { skopeoCopy } from './skopeo.js';

export type { FixtureImage, FixturesDescription, ProfileName } from '../../../scripts/fixtures/index.js';

export interface LoadedFixtures {
  /** The generation's directory (holds fixtures.json). */
  readonly dir: string;
  /** Absolute path of the OCI image layout. */
  readonly layoutDir: string;
  readonly description: FixturesDescription;
  readonly images: readonly FixtureImage[];
  /** Absolute paths of the cosign test key pair (P-256 PEM). */
  readonly publicKeyPath: string;
  readonly privateKeyPath: string;
  /** The root named `name:tag` (or the only root of `kind` in `name` when no tag is given). */
  find(name: string, tagOrKind: string): FixtureImage;
}

export interface LoadFixturesOptions {
  /** Default 1. */
  readonly seed?: number;
}

export async function loadFixtures(profile: ProfileName = 'small', opts: LoadFixturesOptions = {}): Promise<LoadedFixtures> {
  const { dir, description } = await ensureFixtures({ profile, seed: opts.seed ?? DEFAULT_SEED });
  return {
    dir,
    layoutDir: join(dir, description.layout),
    description,
    images: description.images,
    publicKeyPath: join(dir, description.signingKey.publicPem),
    privateKeyPath: join(dir, description.signingKey.privatePem),
    find: (name, tagOrKind) => findImage(description.images, name, tagOrKind),
  };
}

function findImage(images: readonly FixtureImage[], name: string, tagOrKind: string): FixtureImage {
  const found = images.find((i) => i.name === name && i.tag === tagOrKind) ??
    images.find((i) => i.name === name && i.kind === tagOrKind);
  if (!found) throw new Error(`no fixture ${name} ${tagOrKind}`);
  return found;
}

export interface SeedOptions {
  readonly seed?: number;
  /** Prepended to every repository, e.g. `upstream/` → `upstream/demo/app`. Default none. */
  readonly prefix?: string;
  /** Only these kinds (the sbom's referrers index follows the sbom). Default all. */
  readonly kinds?: readonly FixtureKind[];
  /** skopeo processes at once. Default 4. */
  readonly concurrency?: number;
}

export interface SeededImage extends FixtureImage {
  /** Repository in the registry (prefix included). */
  readonly repository: string;
  /** `HOST/repository:tag`, or `HOST/repository@digest` for content without a tag. */
  readonly ref: string;
}

export interface SeedResult {
  readonly fixtures: LoadedFixtures;
  readonly images: readonly SeededImage[];
  find(name: string, tagOrKind: string): SeededImage;
}

/**
 * Seed `reg` with a profile: subjects first (images, indexes, charts), then what points at them
 * (signature, SBOM referrer), then the referrers fallback index, whose child must already exist
 * (Distribution 2.8 checks an index's children on push).
 */
export async function seedRegistry(reg: TestRegistry, profile: ProfileName = 'small', opts: SeedOptions = {}): Promise<SeedResult> {
  const fixtures = await loadFixtures(profile, opts.seed === undefined ? {} : { seed: opts.seed });
  const prefix = opts.prefix ?? '';
  const endpoint = endpointOf(reg);
  const wanted = (i: FixtureImage): boolean =>
    !opts.kinds || opts.kinds.includes(i.kind) || (i.kind === 'referrers' && opts.kinds.includes('sbom'));
  const seeded: SeededImage[] = fixtures.images.filter(wanted).map((i) => {
    const repository = `${prefix}${i.name}`;
    return { ...i, repository, ref: i.tag ? `${reg.host}/${repository}:${i.tag}` : `${reg.host}/${repository}@${i.digest}` };
  });
  const phases: readonly (readonly FixtureKind[])[] = [['image', 'index', 'chart'], ['signature', 'sbom'], ['referrers']];
  for (const kinds of phases) {
    await forEachConcurrent(seeded.filter((i) => kinds.includes(i.kind)), opts.concurrency ?? 4, async (i) => {
      if (i.seedWith === 'skopeo') {
        // Distribution 2.8 sometimes answers 500 to skopeo's blob-reuse HEAD while another copy
        // creates the same repository (seen in CI: "trying to reuse blob … 500"); skopeo treats
        // that as fatal, so the harness tries the copy again.
        for (let attempt = 1; ; attempt++) {
          try {
            await skopeoCopy(`oci:${fixtures.layoutDir}:${i.layoutRef}`, `docker://${i.ref}`, { dest: reg });
            break;
          } catch (err) {
            if (attempt >= 3 || !/\b50[0-9]\b|Internal Server Error/.test(String(err))) throw err;
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
      } else {
        await pushFromLayout(endpoint, fixtures.layoutDir, i, i.repository, i.tag ?? i.digest);
      }
    });
  }
  return { fixtures, images: seeded, find: (name, tagOrKind) => findImage(seeded, name, tagOrKind) as SeededImage };
}
