import type { Digest } from '../oci/index.js';

/**
 * airlock.json: the bundle manifest (docs/ARCHITECTURE.md "The bundle format"). Its sha256 digest is the bundle id.
 * Entry order in a bundle: airlock.json, airlock.sigstore.json, oci-layout, index.json,
 * blobs/sha256/<hex> (manifests and configs first, then layers; each blob once), then for split
 * bundles the pieces of blobs larger than a volume.
 */
export const AIRLOCK_FORMAT_VERSION = 1;
export const AIRLOCK_JSON = 'airlock.json';
export const AIRLOCK_SIGNATURE = 'airlock.sigstore.json';

export type ArtifactKind = 'image' | 'chart' | 'file' | 'referrer';

export interface BundleArtifact {
  readonly kind: ArtifactKind;
  /** Source reference as pinned: `docker.io/library/nginx:1.27@sha256:…` (tag kept when there was one). */
  readonly source: string;
  /** `registry/repository` of the source, e.g. `docker.io/library/nginx`. Files: `''`. */
  readonly repository: string;
  /** The tag to apply in the target, if the source had one. */
  readonly tag?: string;
  /** Root digest as carried in the bundle (equals upstream unless a platform filter made a new index). */
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType?: string;
  /** Platforms carried (multi-arch images), `os/arch[/variant]`. */
  readonly platforms?: readonly string[];
  /** When a platform filter produced a new index: the upstream index digest. */
  readonly upstreamDigest?: string;
  /** Referrers: the digest of the manifest this artifact refers to. */
  readonly subject?: Digest;
  /** Referrers carried by tag (cosign `.sig`/`.att`/`.sbom`): the tag in the source repository. */
  readonly referrerTag?: string;
  /** Files: name to deliver under out-dir/files/. */
  readonly fileName?: string;
  /** Total bytes of every blob the artifact needs (dedup not applied). */
  readonly totalSize?: number;
  /** Upstream signature check done at export, if any. */
  readonly upstreamSignature?: UpstreamSignatureRecord;
  /** Content airlock packaged itself (files, classic charts): the URL or file name its bytes came from. */
  readonly origin?: string;
  /** Charts exported with includeImages: the images the chart names, and the values path where found. */
  readonly chartImages?: readonly ChartImageRecord[];
  /**
   * Images read from an archive or an OCI layout (mirror list `archive:` / `layout:`) rather than
   * a registry. `repository` and `tag` are then the names the archive gave the image (or the
   * list's `to:` / `tag:`), read as `docker tag` reads a name, so import maps them like any
   * other image, and nodes that pull `redis:7.2-alpine` find it through the mirror configs.
   */
  readonly archive?: ArchiveRecord;
  /** The tag was given by the mirror list (`tag:`) to a digest-only reference: it exists in the target only, never upstream. */
  readonly tagGiven?: boolean;
  /** The reference came out of a release manifest (`fromFile:`): that file's name and the selector. */
  readonly fromFile?: FromFileRecord;
  /** Files: the vendor's signature over the file, checked at export, with what the site needs to check it again offline. */
  readonly fileSignature?: FileSignatureRecord;
  /** Charts carried because another chart depends on it (includeDependencies): that chart, `registry/repository:tag` or `URL/name version`. */
  readonly dependencyOf?: string;
  /** Files: this is the release set's checksums file (`checksums:`), and what it was found to cover at export. */
  readonly checksums?: ChecksumsRecord;
}

export interface FileSignatureRecord {
  /** `cosign-key`: cosign sign-blob's base64 signature with a key; `sigstore-bundle-*`: a Sigstore bundle. */
  readonly method: 'cosign-key' | 'sigstore-bundle-key' | 'sigstore-bundle-keyless';
  /** Key fingerprint (sha256 of the SPKI DER) or the certificate identity (SAN). */
  readonly signer: string;
  /** Keyless: the OIDC issuer the certificate names. */
  readonly signerIssuer?: string;
  /** The signature file's name as published (`checksums.txt.sig`, `x.sigstore.json`); import writes it beside the file. */
  readonly signatureName: string;
  /** cosign-key: the signature file's content (base64 text). */
  readonly signature?: string;
  /** sigstore-bundle-*: the bundle's JSON text. */
  readonly bundle?: string;
  /** Trust material, inside the signed airlock.json so the site checks again with exactly what export used. */
  readonly publicKeyPem?: string;
  readonly trustedRootJson?: string;
  /** Keyless policy, as the mirror list gave it: exactly one of identity / identityRegexp, and of issuer / issuerRegexp. */
  readonly identity?: string;
  readonly identityRegexp?: string;
  readonly issuer?: string;
  /** Keyless: the OIDC issuer as an unanchored pattern, when the list gave `issuerRegexp` instead of `issuer`. */
  readonly issuerRegexp?: string;
}

export interface ChecksumsRecord {
  /** Files of the release set whose sha256 matched the checksums file. */
  readonly verified: readonly string[];
  /** Names the checksums file lists that the release set does not carry. */
  readonly missing: readonly string[];
  /** Files of the release set the checksums file does not list (checked by their own sha256 only). */
  readonly unlisted: readonly string[];
}

export interface ArchiveRecord {
  /** `docker save` / skopeo `docker-archive:`; an OCI layout in a tar (`oci-archive:`); an OCI layout directory. */
  readonly format: 'docker-archive' | 'oci-archive' | 'oci-layout';
  /** The archive file's or layout directory's name, without its directory. */
  readonly name: string;
  /** The image's name inside it (a RepoTags entry, a ref name annotation), when it had one. */
  readonly ref?: string;
  /**
   * `airlock`: airlock made the manifest (a docker-archive has none), so its digest exists nowhere
   * upstream; `archive`: the archive's own manifest, digest kept.
   */
  readonly manifest: 'airlock' | 'archive';
  /** sha256 of the archive file, when the mirror list gave one (`sha256:`) and the file matched it. */
  readonly sha256?: string;
}

export interface FromFileRecord {
  readonly name: string;
  /** The JSONPath query (RFC 9535) that yielded the reference. */
  readonly selector: string;
}

export interface ChartImageRecord {
  /** Normalised reference, as exported (`docker.io/library/nginx:1.27`). */
  readonly ref: string;
  /** values.yaml path of the image block or string (`image`, `extraImages[0]`). */
  readonly valuesPath?: string;
}

export interface UpstreamSignatureRecord {
  readonly verified: boolean;
  readonly method: 'cosign-key' | 'sigstore-bundle-key' | 'sigstore-bundle-keyless';
  /** Key fingerprint (sha256 of SPKI DER) or certificate identity. */
  readonly signer: string;
  /** Digests of the signature manifests carried in the bundle. */
  readonly signatures: readonly Digest[];
  /** Trust material, carried inside the signed airlock.json so the site can re-check offline. */
  readonly publicKeyPem?: string;
  readonly trustedRootJson?: string;
  readonly identity?: string;
  readonly identityRegexp?: string;
  readonly issuer?: string;
  readonly issuerRegexp?: string;
  /** The signed bytes themselves (small), so the site re-checks them offline before pushing. */
  readonly evidence?: readonly UpstreamEvidence[];
}

export type UpstreamEvidence =
  | { readonly kind: 'cosign'; readonly signatureManifest: Digest; readonly payload: string /* base64 */; readonly signature: string /* base64 */ }
  | { readonly kind: 'sigstore-bundle'; readonly signatureManifest: Digest; readonly bundle: string /* base64 */ };

export type BlobLocation = 'bundle' | 'base';

export interface BundleBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** In this bundle, or left out because a base holds it. */
  readonly location: BlobLocation;
  /** For location 'base': id(s) of the base bundle(s) or receipt that held it. */
  readonly bases?: readonly Digest[];
  /** Split bundles: the volume (1-based) that holds the blob whole. Manifests/configs are in every volume. */
  readonly volume?: number;
  /** Split bundles: a blob larger than a volume is cut into pieces. */
  readonly pieces?: readonly BlobPiece[];
}

export interface BlobPiece {
  readonly volume: number;
  /** Byte offset of the piece in the blob. */
  readonly offset: number;
  readonly size: number;
  /** sha256 of the piece's own bytes, so each volume verifies on its own. */
  readonly digest: Digest;
}

export interface BundleBase {
  readonly id: Digest;
  readonly kind: 'bundle' | 'receipt';
  readonly created?: string;
}

export interface VolumeInfo {
  readonly count: number;
  readonly maxSize: number;
}

/**
 * `export --include-tool`: the single executable of the tool that wrote the bundle, written as a
 * file beside it (not a bundle entry), so one drive carries both. Recorded here, under the
 * signature, so `verify` and `import` can check the file a site finds beside the bundle.
 */
export interface CarriedTool {
  /** Its file name beside the bundle: one path component (`airlock-0.1.0-linux-x64`). */
  readonly file: string;
  readonly size: number;
  /** sha256 of the file. */
  readonly digest: Digest;
  /** `<os>-<arch>` it runs on, as Node names them (`linux-x64`). */
  readonly platform: string;
  /** What `airlock version` says it is. */
  readonly version: string;
  readonly commit?: string;
}

/** The tool that wrote the bundle. */
export interface ToolRecord {
  readonly name: 'airlock';
  readonly version: string;
  /** The commit it was built from (`airlock version`), when its build recorded one. */
  readonly commit?: string;
  /** `--include-tool`: its executable, beside the bundle. */
  readonly executable?: CarriedTool;
}

export interface AirlockManifest {
  readonly version: typeof AIRLOCK_FORMAT_VERSION;
  readonly created: string;
  readonly tool: ToolRecord;
  readonly bases: readonly BundleBase[];
  readonly artifacts: readonly BundleArtifact[];
  readonly blobs: readonly BundleBlob[];
  readonly volumes?: VolumeInfo;
}
