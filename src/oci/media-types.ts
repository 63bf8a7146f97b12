// Spec strings live here and nowhere else.
// OCI image spec: https://github.com/opencontainers/image-spec/blob/main/media-types.md
// Docker image manifest v2 schema 2: https://distribution.github.io/distribution/spec/manifest-v2-2/

export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MEDIA_TYPE_OCI_LAYOUT_HEADER = 'application/vnd.oci.layout.header.v1+json';

export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_MANIFEST_V1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MEDIA_TYPE_DOCKER_MANIFEST_V1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_TYPE_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** An uncompressed layer (schema 2 allows it); what airlock names the layers of a docker-archive. */
export const MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

// Helm: https://helm.sh/docs/topics/registries/
export const MEDIA_TYPE_HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const MEDIA_TYPE_HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const MEDIA_TYPE_HELM_PROVENANCE = 'application/vnd.cncf.helm.chart.provenance.v1.prov';

// Cosign / Sigstore
export const MEDIA_TYPE_COSIGN_SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const MEDIA_TYPE_SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const ANNOTATION_COSIGN_SIGNATURE = 'dev.cosignproject.cosign/signature';
/** DSSE payload type of an in-toto statement: https://github.com/in-toto/attestation/blob/main/spec/v1/envelope.md */
export const MEDIA_TYPE_IN_TOTO = 'application/vnd.in-toto+json';

// SBOMs carried as OCI artifacts (artifactType and layer media type): https://spdx.github.io/spdx-spec/v2.3/
export const MEDIA_TYPE_SPDX_JSON = 'application/spdx+json';
export const MEDIA_TYPE_SPDX_TEXT = 'text/spdx';
// CycloneDX: https://cyclonedx.org/specification/overview/ (IANA-registered media types)
export const MEDIA_TYPE_CYCLONEDX_JSON = 'application/vnd.cyclonedx+json';
export const MEDIA_TYPE_CYCLONEDX_XML = 'application/vnd.cyclonedx+xml';
export const MEDIA_TYPE_SYFT_JSON = 'application/vnd.syft+json';

// Attestations: which in-toto predicate an artifact holds, as the tools that attach them say it.
/** cosign v3 on a Sigstore bundle referrer manifest (`cosign attest --new-bundle-format`). */
export const ANNOTATION_SIGSTORE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';
/** cosign's `.att` tag: each DSSE layer carries its predicate type. */
export const ANNOTATION_COSIGN_PREDICATE_TYPE = 'predicateType';
/** BuildKit attestation manifests (https://docs.docker.com/build/metadata/attestations/attestation-storage/): per layer. */
export const ANNOTATION_IN_TOTO_PREDICATE_TYPE = 'in-toto.io/predicate-type';
/** BuildKit: an index entry that is an attestation manifest, not a platform image. */
export const ANNOTATION_DOCKER_REFERENCE_TYPE = 'vnd.docker.reference.type';
export const DOCKER_REFERENCE_TYPE_ATTESTATION = 'attestation-manifest';
/** in-toto predicate types (https://github.com/in-toto/attestation/tree/main/spec/predicates), matched as prefixes. */
export const PREDICATE_SLSA_PROVENANCE_PREFIX = 'https://slsa.dev/provenance/';
export const PREDICATE_SPDX_PREFIX = 'https://spdx.dev/Document';
export const PREDICATE_CYCLONEDX_PREFIX = 'https://cyclonedx.org/';

// Airlock's own artifacts (files carried as OCI artifacts)
export const MEDIA_TYPE_AIRLOCK_FILE = 'application/vnd.airlock.file.v1';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_VERSION = 'org.opencontainers.image.version';
export const ANNOTATION_DESCRIPTION = 'org.opencontainers.image.description';
/** containerd's whole image name on an index.json entry (`docker save` ≥ 25, `ctr export`, BuildKit's oci exporter). */
export const ANNOTATION_CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';

/** Every manifest media type the registry client asks for in `Accept`. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_DOCKER_MANIFEST,
];

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MEDIA_TYPE_OCI_INDEX || mt === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}

export function isImageManifestMediaType(mt: string | undefined): boolean {
  return mt === MEDIA_TYPE_OCI_MANIFEST || mt === MEDIA_TYPE_DOCKER_MANIFEST;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}

export function isSchema1MediaType(mt: string | undefined): boolean {
  return mt === MEDIA_TYPE_DOCKER_MANIFEST_V1 || mt === MEDIA_TYPE_DOCKER_MANIFEST_V1_SIGNED;
}

export function isDockerMediaType(mt: string | undefined): boolean {
  return typeof mt === 'string' && mt.startsWith('application/vnd.docker.');
}
