import type { Readable } from 'node:stream';
import type { BlobMounter, CallOptions, ContentSink, ContentSource, ReferrerLister, TagChecker, TagLister, TagOptions } from '../content/index.js';
import type { Logger } from '../log.js';
import type { Descriptor } from '../oci/index.js';
import type { RegistrySide } from './errors.js';

/** How to reach one registry host. */
export interface RegistryHostConfig {
  /**
   * `verify` (default): HTTPS with the system CAs plus certDir's. `skip-verify`: HTTPS without
   * verification, falling back to plain HTTP when the host does not speak TLS (skopeo's
   * `--tls-verify=false`). `plain-http`: HTTP only.
   */
  readonly tls: 'verify' | 'skip-verify' | 'plain-http';
  /** certs.d-style directory: `*.crt` CAs, `NAME.cert` + `NAME.key` client pair. */
  readonly certDir?: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly authfile?: string;
}

export interface RequestInfo {
  readonly method: string;
  /** Redacted. */
  readonly url: string;
  /** Undefined when no response arrived. */
  readonly status?: number;
  /** Request body bytes handed to the connection. */
  readonly bytesSent?: number;
}

export interface RegistryClientOptions {
  /** Debug logs of every request (method, redacted URL, status). Default: none. */
  readonly logger?: Logger;
  /** Sockets per host. Default 16. */
  readonly connections?: number;
  /** Retries of idempotent requests. Default 4. */
  readonly retries?: number;
  /** First retry backoff in ms (doubles each time, with jitter). Default 250. */
  readonly retryBaseDelayMs?: number;
  /** Largest wait between retries, and largest Retry-After honoured, in ms. Default 30000. */
  readonly retryMaxDelayMs?: number;
  /**
   * Chunk size of chunked (PATCH) uploads of blobs above monolithicMax; also the memory one upload
   * holds. Default: none, such blobs go in one streamed PUT (measured faster: docs/BENCHMARKS.md).
   */
  readonly chunkSize?: number;
  /** Blobs up to this size are uploaded in one PUT. Default 16 MiB. */
  readonly monolithicMax?: number;
  /** Time to wait for response headers, and longest silence inside a response body, in ms. Default 120000. */
  readonly timeoutMs?: number;
  /** Which flags to name in hints: `--src-*` or `--dest-*`. Default: both. */
  readonly side?: RegistrySide;
  /** The `--authfile` flag when `config.authfile` is a per-registry file (it is consulted after it). */
  readonly fallbackAuthfile?: string;
  /** Credentials the command line scoped to this registry, consulted after `config.authfile`. */
  readonly fallbackCredentials?: { readonly username: string; readonly password: string; readonly source: string };
  /**
   * `env`: honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY (source registries, at export). Default:
   * connect directly (the import target).
   */
  readonly proxy?: 'env' | 'none';
  /** Environment for credential lookup (tests). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Called after every HTTP exchange: tests count requests and bytes, --verbose prints them. */
  readonly onRequest?: (info: RequestInfo) => void;
}

export type AuthScheme = 'none' | 'basic' | 'bearer';

/** What `registry probe` found out. */
export interface ProbeResult {
  readonly registry: string;
  /** The scratch repository used for write tests. */
  readonly repository: string;
  readonly scheme: 'https' | 'http';
  readonly auth: AuthScheme;
  /** Credentials were found (and from where), never what they are. */
  readonly credentialsSource?: string;
  readonly referrersApi: boolean;
  readonly push: boolean;
  readonly ociManifest: boolean;
  readonly ociIndex: boolean;
  readonly dockerManifest: boolean;
  readonly dockerManifestList: boolean;
  /** An OCI 1.1 artifact (artifactType + subject) is accepted. */
  readonly ociArtifact: boolean;
  readonly mount: boolean;
  readonly monolithicUpload: boolean;
  readonly chunkedUpload: boolean;
  readonly delete: boolean;
  /** Everything the probe wrote was removed again. */
  readonly cleanedUp: boolean;
  /**
   * The deepest repository path (in components, from the registry root) the registry let the probe
   * open an upload in; undefined when it took every depth tried (`pathDepthTried`). Quay without
   * nested names stops at 2 (namespace/repository), GitLab at its project path plus two.
   */
  readonly maxPathDepth?: number;
  /** The deepest path the probe tried. */
  readonly pathDepthTried: number;
  /** Harbor (its /api/v2.0/ping answered): the project the probe's scratch repository needs, and whether it exists. */
  readonly harbor?: { readonly project: string; readonly projectExists: boolean };
  readonly notes: readonly string[];
}

/** Harbor's project API (registry/harbor.ts), with the destination credentials as Basic auth. */
export interface HarborProjects {
  /** Is this registry a Harbor? Asked once per client (GET /api/v2.0/ping). */
  detect(opts?: CallOptions): Promise<boolean>;
  projectExists(name: string, opts?: CallOptions): Promise<boolean>;
  /** Create a private project; 'exists' when another caller created it first. */
  createProject(name: string, opts?: CallOptions): Promise<'created' | 'exists'>;
}

export interface RegistryClient {
  /** Normalised registry name, as in Reference.registry. */
  readonly registry: string;
  repository(name: string): RegistryRepository;
  /** GET /v2/ with auth: clear errors for TLS, auth and unreachable hosts. */
  ping(opts?: CallOptions): Promise<void>;
  /** Try what the registry supports on a scratch repository under `repository`, cleaning up after. */
  probe(repository: string, opts?: CallOptions): Promise<ProbeResult>;
  /** All repositories (paginated, n ≤ 1000). */
  catalog(opts?: CallOptions): Promise<string[]>;
  /** The auth scheme learnt so far (after a request). */
  readonly authScheme: AuthScheme | undefined;
  /**
   * The scheme this client speaks to the registry: `https` or `http` as the config fixes it, or,
   * with `skip-verify`, what the first answer showed (TLS, or plain HTTP after a failed handshake).
   * Undefined while skip-verify has not yet had an answer.
   */
  readonly scheme: 'https' | 'http' | undefined;
  /** Is the referrers API available? Decided on first use and cached. */
  supportsReferrersApi(repository: string, opts?: CallOptions): Promise<boolean>;
  /** Harbor's project API, for registries that are Harbor (`detect()`). */
  readonly harbor: HarborProjects;
  close(): Promise<void>;
}

export interface RegistryRepository extends ContentSource, ContentSink, ReferrerLister, BlobMounter, TagLister, TagChecker {
  readonly client: RegistryClient;
  readonly name: string;
  resolve(reference: string, opts?: CallOptions): Promise<Descriptor>;
  fetchManifest(reference: string, opts?: CallOptions): Promise<{ desc: Descriptor; bytes: Buffer }>;
  fetch(desc: Descriptor, opts?: CallOptions): Promise<Readable>;
  exists(desc: Descriptor, opts?: CallOptions): Promise<boolean>;
  push(desc: Descriptor, body: Readable, opts?: CallOptions): Promise<void>;
  pushManifest(desc: Descriptor, bytes: Buffer, reference: string, opts?: CallOptions): Promise<void>;
  /**
   * Make sure a referrer (a manifest with `subject`) that is already in the repository is listed
   * where clients look for it: the referrers API lists it by itself; otherwise the tag-schema index.
   * For a referrer pushed by an earlier, interrupted run, whose fallback update never happened.
   */
  ensureReferrerListed(desc: Descriptor, bytes: Buffer, opts?: CallOptions): Promise<void>;
  /**
   * Whether ensureReferrerListed would find nothing to do: the referrers API lists it, or the
   * tag-schema index already holds it. Read-only (one GET of that index). Import asks it alongside
   * the copy, so that a no-op re-import has nothing left to ask after it.
   */
  referrerListed(desc: Descriptor, bytes: Buffer, opts?: CallOptions): Promise<boolean>;
  tag(desc: Descriptor, tag: string, opts?: TagOptions): Promise<void>;
  tagPointsAt(desc: Descriptor, tag: string, opts?: CallOptions): Promise<boolean>;
  tags(opts?: CallOptions): Promise<string[]>;
  /**
   * `knownTags`: the repository's tags as the caller listed them in this run. Without the referrers
   * API, the tag-schema index is then fetched only when its `sha256-<hex>` tag is among them (one
   * tag list per repository instead of one GET per subject: planning thousands of images).
   */
  referrers(subject: Descriptor, opts?: CallOptions & { artifactType?: string; knownTags?: ReadonlySet<string> }): Promise<Descriptor[]>;
  mount(desc: Descriptor, fromRepository: string, opts?: CallOptions): Promise<boolean>;
  /** DELETE a manifest or blob (probe clean-up, tests). False when the registry does not allow it. */
  delete(desc: Descriptor, opts?: CallOptions): Promise<boolean>;
  /**
   * May this repository be pushed to? Opens an upload session and cancels it (spec "Pushing
   * blobs", "Cancel a blob upload"): nothing is stored. Throws the registry's refusal. With `keep`,
   * the session is kept open instead, for the repository's next blob upload sent whole (it saves
   * that upload's POST and this check's DELETE); {@link releaseKept} cancels it if none took it.
   */
  checkPush(opts?: CallOptions & { readonly keep?: boolean }): Promise<void>;
  /** Cancel the upload session checkPush kept (`keep`) when no upload has taken it. Best effort, never throws. */
  releaseKept(opts?: CallOptions): Promise<void>;
  /** May this repository be read? True when the registry answers its tag list (200, or 404 for a repository not there yet). */
  readable(opts?: CallOptions): Promise<boolean>;
}
