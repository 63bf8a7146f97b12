import type { CallOptions } from '../content/index.js';
import type { Descriptor } from '../oci/index.js';
import type { Transport } from './transport.js';
import type { AuthScheme, HarborProjects, RegistryClient, RegistryRepository } from './types.js';

/** What one read of the referrers API learnt: it answered, it is not there, or it could not tell. */
export type ReferrersAttempt =
  | { readonly kind: 'api'; readonly descs: Descriptor[] }
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'unknown'; readonly descs: Descriptor[] };

/**
 * What a repository (repository.ts) and the probe (probe.ts) need of the registry client that made
 * them. client.ts implements it; declared here so that neither file imports client.ts, which
 * imports both (the architecture test forbids file-level cycles).
 */
export interface RegistryHost extends RegistryClient {
  readonly registry: string;
  readonly transport: Transport;
  readonly chunkSize: number;
  readonly monolithicMax: number;
  readonly harbor: HarborProjects;
  readonly authScheme: AuthScheme | undefined;
  readonly referrersApi: boolean | undefined;
  repository(name: string): RegistryRepository;
  ping(opts?: CallOptions): Promise<void>;
  supportsReferrersApi(repository: string, opts?: CallOptions): Promise<boolean>;
  decideReferrers(attempt: () => Promise<ReferrersAttempt>): Promise<Descriptor[] | undefined>;
  setReferrersApi(value: boolean): void;
  rememberManifest(digest: string, bytes: Buffer): void;
  recallManifest(digest: string): Buffer | undefined;
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}
