import type { Platform } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { VerifyPolicy } from '../signing/index.js';

// A vendor-signature policy (`verify:`) is the signing module's type: its checks read it.
export type { VerifyPolicy };

/**
 * A validated mirror list (README "Write the mirror list"). Every entry carries `where`
 * (`file:line:col`, 1-based) so later failures (a tag that does not exist, a signature that does
 * not verify) can point back at the line that asked for it.
 *
 * `defaults` are already applied to every entry at parse time; they stay here for reporting only.
 */
export interface MirrorList {
  readonly version: 1;
  readonly defaults: MirrorDefaults;
  /** Keyed by normalised `host[:port]` (lowercase, Docker Hub aliases → docker.io). */
  readonly registries: ReadonlyMap<string, RegistrySettings>;
  readonly images: readonly ImageEntry[];
  readonly charts: readonly ChartEntry[];
  readonly files: readonly FileEntry[];
  /** The mirror list files this list came from, in the order given. */
  readonly sources: readonly string[];
}

export interface MirrorDefaults {
  /** Absent: every platform. */
  readonly platforms?: readonly Platform[];
  /** Carry signatures, attestations and SBOMs that refer to each image. Default true. */
  readonly referrers: boolean;
}

export type TlsMode = 'verify' | 'skip-verify' | 'plain-http';
export const TLS_MODES: readonly TlsMode[] = ['verify', 'skip-verify', 'plain-http'];

/**
 * Per-registry settings; they win over the `--src-*` flags (README "Source registry
 * settings"). A field left out is absent here, so the flag (or the default) still applies to it.
 */
export interface RegistrySettings {
  /** Absent: `--src-tls-verify`, else `verify`. */
  readonly tls?: TlsMode;
  /** Absolute: docker `certs.d` layout (`*.crt`, `*.cert` + `*.key`). */
  readonly certDir?: string;
  /** Absolute: docker `config.json` / containers `auth.json`. */
  readonly authfile?: string;
  /** `creds: USER:PASS`: sent to this registry only, and before its authfile. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Where the registry's key was written (`file:line:col`); the first place when merged. */
  readonly where: string;
}

export type TagSelector =
  | { readonly kind: 'list'; readonly tags: readonly string[] }
  | { readonly kind: 'semver'; readonly range: string }
  | { readonly kind: 'regex'; readonly pattern: string };

interface ImageCommon {
  /** Absent: every platform (the `--platform` flags, if any, then filter). */
  readonly platforms?: readonly Platform[];
  /** Always false for archives and layouts: they hold no referrers index to look in. */
  readonly referrers: boolean;
  readonly verify?: VerifyPolicy;
  readonly where: string;
}

/** One image by reference: tag and/or digest. */
export interface ImageRefEntry extends ImageCommon {
  readonly kind: 'ref';
  /** Always has a tag or a digest: a bare reference gets tag `latest`. */
  readonly ref: Reference;
  /**
   * No digest and the tag is `latest` (written or implied): what it names changes upstream, so
   * export resolves and pins it and warns (issue 4).
   */
  readonly floating: boolean;
  /**
   * `tag:` on a digest-only reference: the tag the image gets in the target only (seed 004's
   * `skopeo copy ...@sha256:<d> docker://.../x:v1.0.0-beta`); nothing is looked up upstream by it.
   */
  readonly targetTag?: string;
  /** The entry came out of a `fromFile:` release manifest through this selector. */
  readonly fromFile?: { readonly path: string; readonly selector: string };
}

/** Several tags of one repository, chosen from its tag list. */
export interface ImageRepositoryEntry extends ImageCommon {
  readonly kind: 'repository';
  /** Registry and repository only: no tag, no digest. */
  readonly repository: Reference;
  readonly tags: TagSelector;
}

/**
 * Images from a file another tool wrote instead of a registry: `archive:` (a `docker save` or
 * `skopeo copy ... docker-archive:` / `oci-archive:` tar, optionally gzip- or zstd-compressed as
 * a whole) or `layout:` (an OCI layout directory). Which images and what they are called in the
 * target come from the archive's own names (RepoTags, ref name annotations) or from `to:` / `tag:`.
 */
export interface ImageArchiveEntry extends ImageCommon {
  readonly kind: 'archive';
  /** `archive`: a tar file (docker-archive or oci-archive, told apart by its content); `layout`: a directory. */
  readonly source: 'archive' | 'layout';
  /** Absolute. */
  readonly path: string;
  /** Only the image the archive names so (a RepoTags entry or a ref name); absent: every image in it. */
  readonly ref?: string;
  /** Target repository (registry and repository, read as `docker tag` reads a name); absent: the archive's names. */
  readonly to?: Reference;
  /** Target tag; absent: the archive's names. */
  readonly tag?: string;
  /** Lower-case sha256 hex the archive file must have (the vendor's published checksum). */
  readonly sha256?: string;
}

/**
 * `fromFile:` a release manifest (JSON or YAML) whose `select:` JSONPath (RFC 9535) yields image
 * references. Only between parsing and reading: readMirrorLists replaces it with the ImageRefEntry
 * list it yields (each with `fromFile` set), so export never sees one.
 */
export interface ImageFromFileEntry extends ImageCommon {
  readonly kind: 'fromFile';
  /** Absolute. */
  readonly path: string;
  readonly selector: string;
  /** `file:line:col` of the `select:` value, where errors about what it yields point. */
  readonly selectorWhere: string;
  /** Given to every digest-only reference the selector yields (as ImageRefEntry.targetTag). */
  readonly tag?: string;
}

export type ImageEntry = ImageRefEntry | ImageRepositoryEntry | ImageArchiveEntry | ImageFromFileEntry;

export type ChartEntry =
  | {
      readonly kind: 'oci';
      /** From `oci://host/path`: registry and repository, no tag or digest. */
      readonly ref: Reference;
      /** Exact version or a semver range (`semver.validRange` accepts it). */
      readonly version: string;
      readonly includeImages: boolean;
      /** Also the charts its Chart.yaml/Chart.lock `dependencies` name, recursively (with their images when includeImages). */
      readonly includeDependencies: boolean;
      readonly where: string;
    }
  | {
      readonly kind: 'repo';
      /** http(s) URL of a classic `index.yaml` chart repository, without a trailing slash. */
      readonly repoUrl: string;
      readonly name: string;
      readonly version: string;
      readonly includeImages: boolean;
      /** Also the charts its Chart.yaml/Chart.lock `dependencies` name, recursively (with their images when includeImages). */
      readonly includeDependencies: boolean;
      readonly where: string;
    };

interface FileCommon {
  readonly name: string;
  readonly where: string;
  /**
   * `checksums:` instead of `path:`/`url:`: a `sha256sum` file (seed 004's checksums.txt). Every
   * other file of the release set (the `files:` entries) that it lists is checked against it, at
   * export and again at import; what it lists that the set lacks is reported.
   */
  readonly checksums?: boolean;
  /** A vendor signature over the file's bytes, checked at export and again, offline, at import. */
  readonly signature?: FileSignaturePolicy;
}

/** Where a signature (or Sigstore bundle) file is: beside the mirror list, or at a URL. */
export type SignatureSource = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'url'; readonly url: string };

export type FileSignaturePolicy =
  /** `cosign sign-blob --key`: base64 of an ECDSA (or RSA) signature over the file, SHA-256; checked with `key:`. */
  | { readonly kind: 'cosign'; readonly signature: SignatureSource; readonly keyPath: string; readonly where: string }
  /** `cosign sign-blob --bundle`: a Sigstore bundle, key-signed (`key:`) or keyless (`keyless:`). */
  | {
      readonly kind: 'bundle';
      readonly bundle: SignatureSource;
      readonly keyPath?: string;
      readonly keyless?: Extract<VerifyPolicy, { kind: 'keyless' }>;
      readonly where: string;
    };

export type FileEntry =
  | (FileCommon & { readonly kind: 'path'; readonly path: string /* absolute */ })
  | (FileCommon & { readonly kind: 'url'; readonly url: string; readonly sha256: string /* 64 lowercase hex */ });

/** `--lock FILE`: the resolved tag → digest set, JSON with a version field (JSON output carries a version field). */
export interface LockFile {
  readonly version: 1;
  /** Sorted by source. */
  readonly entries: readonly LockEntry[];
}

export interface LockEntry {
  /** What was resolved, as `formatReference` writes it: `registry/repository:tag`. */
  readonly source: string;
  /** What it resolved to: `sha256:<hex>`. */
  readonly digest: string;
}
