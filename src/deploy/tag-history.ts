import { AirlockError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { RegistryError, type RegistryRepository } from '../registry/index.js';
import type { CallOptions } from '../content/index.js';

/** A tag's history tag: `TAG-prev-<n>`, n counting up from 1 (the highest is the newest). */
export const historyTagPattern = (tag: string): RegExp => new RegExp(`^${tag.replace(/[.]/g, '\\.')}-prev-(\\d+)$`);
export const isHistoryTag = (tag: string): boolean => /-prev-\d+$/.test(tag);

/** Where a tag points now; undefined when the repository has no such tag. */
export async function currentDigest(repo: RegistryRepository, tag: string, opts: CallOptions = {}): Promise<Descriptor | undefined> {
  try {
    return await repo.resolve(tag, opts);
  } catch (err) {
    if ((err instanceof RegistryError || err instanceof AirlockError) && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * `--keep-previous-tags`: keep `previous` reachable under `TAG-prev-<n>` before `TAG` moves off it.
 * The newest history tag is reused when it already points there (a re-run, or a tag moving back
 * and forth), so history tags never pile up for one digest in a row. The manifest's bytes are
 * copied as the registry holds them: the digest does not change.
 */
export async function keepPreviousTag(repo: RegistryRepository, tag: string, previous: Descriptor, opts: CallOptions = {}): Promise<string> {
  const re = historyTagPattern(tag);
  let newest = 0;
  for (const t of await repo.tags(opts)) {
    const m = re.exec(t);
    if (m) newest = Math.max(newest, Number(m[1]));
  }
  if (newest > 0 && (await repo.tagPointsAt(previous, `${tag}-prev-${newest}`, opts))) return `${tag}-prev-${newest}`;
  const name = `${tag}-prev-${newest + 1}`;
  if (name.length > 128) {
    throw new AirlockError('REFERENCE_INVALID', `history tag ${name} is longer than the 128 characters a tag may have`, {
      where: `${repo.name}:${tag}`, hint: 'import without --keep-previous-tags for this tag, or use shorter tags',
    });
  }
  const { bytes } = await repo.fetchManifest(previous.digest, opts);
  await repo.pushManifest(previous, bytes, name, opts);
  return name;
}
