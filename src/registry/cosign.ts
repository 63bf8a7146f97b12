import type { CallOptions } from '../content/index.js';
import type { Descriptor } from '../oci/index.js';
import { RegistryError } from './errors.js';
import { cosignTags } from './referrers.js';
import type { RegistryRepository } from './types.js';

export interface CosignArtifact {
  readonly kind: 'sig' | 'att' | 'sbom';
  readonly tag: string;
  readonly desc: Descriptor;
}

/** cosign's signature, attestation and SBOM tags for `subject` that exist in `repo`. */
export async function listCosignArtifacts(repo: RegistryRepository, subject: Pick<Descriptor, 'digest'>, opts: CallOptions = {}): Promise<CosignArtifact[]> {
  const tags = cosignTags(subject.digest);
  const out: CosignArtifact[] = [];
  for (const kind of ['sig', 'att', 'sbom'] as const) {
    try {
      out.push({ kind, tag: tags[kind], desc: await repo.resolve(tags[kind], opts) });
    } catch (err) {
      if (!(err instanceof RegistryError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  return out;
}
