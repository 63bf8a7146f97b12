// The registry module's only import surface: a distribution-spec client on undici.
export type {
  RegistryHostConfig, RegistryClientOptions, RegistryClient, RegistryRepository, ProbeResult, RequestInfo, AuthScheme, HarborProjects,
} from './types.js';
export { createRegistryClient } from './client.js';
export { createRegistryPool, type RegistryPool, type RegistryPoolOptions, type ScopedCredentials } from './pool.js';
export {
  RegistryError, registryErrorFrom, transportErrorFrom, parseErrorBody, isRetryableStatus, isRepositoryRefusal,
  type DistributionError, type DistributionErrorCode, type RegistrySide, type RegistryErrorContext,
} from './errors.js';
export { resolveCredentials, runCredentialHelper, type Credentials, type ResolveCredentialsOptions } from './credentials.js';
export { CERTS_D_ENV, defaultCertDirRoots, findDefaultCertDir, loadCertDir, type CertDirContents } from './cert-dir.js';
export { parseWwwAuthenticate, type AuthChallenge } from './www-authenticate.js';
export { parseLinkNext } from './link.js';
export { backoffDelay, parseRetryAfter, retryDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { referrersTag, cosignTags } from './referrers.js';
export { listCosignArtifacts, type CosignArtifact } from './cosign.js';
export * from './headers.js';
export { checkManifestMediaTypes, type ManifestTypeCheck } from './media-check.js';
export { fetchUrl, readUrl, type FetchUrlOptions, type UrlResponse } from './fetch-url.js';
