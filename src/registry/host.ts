import type { Descriptor } from '../oci/index.js';
import type { ByteSemaphore } from '../util/index.js';
import type { Transport } from './transport.js';
import type { HarborProjects, RegistryClient } from './types.js';

/** What one read of the referrers API learnt: it answered, it is not there, or it could not tell. */
export type ReferrersAttempt =
  | { readonly kind: 'api'; readonly descs: Descriptor[] }
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'unknown'; readonly descs: Descriptor[] };

/**
 * What a repository (repository.ts) and the probe (probe.ts) need of the registry client that made
 * them, beyond the public RegistryClient. client.ts implements it; declared here so that neither
 * file imports client.ts, which imports both (the architecture test forbids file-level cycles).
 */
export interface RegistryHost extends RegistryClient {
  readonly transport: Transport;
  readonly chunkSize: number;
  readonly monolithicMax: number;
  /** The bytes of blobs sent whole (≤ monolithicMax) held in memory at once, across this client's uploads. */
  readonly held: ByteSemaphore;
  readonly harbor: HarborProjects;
  readonly referrersApi: boolean | undefined;
  decideReferrers(attempt: () => Promise<ReferrersAttempt>): Promise<Descriptor[] | undefined>;
  setReferrersApi(value: boolean): void;
  rememberManifest(digest: string, bytes: Buffer): void;
  recallManifest(digest: string): Buffer | undefined;
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}
