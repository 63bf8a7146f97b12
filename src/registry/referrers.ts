import { parseDescriptor, type Descriptor, type Digest, hexOf } from '../oci/index.js';

/**
 * The referrers tag schema (distribution spec "Referrers Tag Schema",
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#referrers-tag-schema):
 * `<alg>-<ref>` of the subject digest, truncated to a valid tag.
 */
export function referrersTag(subject: Digest): string {
  return `sha256-${hexOf(subject)}`.slice(0, 128);
}

/** cosign's tag conventions for signatures, attestations and SBOMs of `subject` (sigstore/cosign). */
export function cosignTags(subject: Digest): { readonly sig: string; readonly att: string; readonly sbom: string } {
  const base = `sha256-${hexOf(subject)}`;
  return { sig: `${base}.sig`, att: `${base}.att`, sbom: `${base}.sbom` };
}

/** Descriptors of an index's `manifests`, as a referrers response or fallback index lists them. */
export function referrerDescriptors(bytes: Buffer, where: string): Descriptor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  const list = (doc as { manifests?: unknown }).manifests;
  if (!Array.isArray(list)) return [];
  return list.map((m, i) => parseDescriptor(m, `${where} manifests[${i}]`));
}

export function filterArtifactType(descs: readonly Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType ? descs.filter((d) => d.artifactType === artifactType) : [...descs];
}

/**
 * The subject and artifactType of a manifest being pushed, when it has a subject: what a
 * referrers fallback index entry needs (spec "Pushing Manifests with Subject").
 */
export function subjectOf(bytes: Buffer): { subject: Descriptor; artifactType?: string; annotations?: Record<string, string> } | undefined {
  // Cheap test before parsing: most manifests have no subject.
  if (!bytes.includes('"subject"')) return undefined;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as {
      subject?: unknown; artifactType?: unknown; config?: { mediaType?: unknown }; annotations?: unknown;
    };
    if (doc.subject === undefined) return undefined;
    const subject = parseDescriptor(doc.subject, 'subject');
    // Spec "Listing Referrers": artifactType, else the config's mediaType for image manifests.
    const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : typeof doc.config?.mediaType === 'string' ? doc.config.mediaType : undefined;
    const annotations = typeof doc.annotations === 'object' && doc.annotations !== null && !Array.isArray(doc.annotations)
      ? Object.fromEntries(Object.entries(doc.annotations as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string>
      : undefined;
    return { subject, ...(artifactType ? { artifactType } : {}), ...(annotations && Object.keys(annotations).length ? { annotations } : {}) };
  } catch {
    return undefined;
  }
}
