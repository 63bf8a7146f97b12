import { normaliseRegistry } from '../reference/index.js';
import { createRegistryClient } from './client.js';
import type { RegistryClient, RegistryClientOptions, RegistryHostConfig } from './types.js';

export interface ScopedCredentials {
  readonly username: string;
  readonly password: string;
  /** Where they came from, for messages (`--src-creds for ghcr.io`); never the secret. */
  readonly source: string;
}

export interface RegistryPoolOptions {
  /** From the flags: TLS, cert dir and authfile for every registry. Its `credentials` are ignored: see `credentials`. */
  readonly defaults: RegistryHostConfig;
  /** The mirror list's `registries:` section, keyed by registry host; wins over the defaults. */
  readonly perRegistry?: ReadonlyMap<string, Partial<RegistryHostConfig>>;
  /**
   * Credentials from the command line, each for the one registry it names (`--src-creds
   * HOST=USER:PASS`). A registry not named here gets none of them (issue 23: a password for one
   * registry was sent to all). Consulted after the registry's own `creds` and `authfile`.
   */
  readonly credentials?: ReadonlyMap<string, ScopedCredentials>;
  readonly clientOptions?: RegistryClientOptions;
}

export interface RegistryPool {
  client(registry: string): RegistryClient;
  closeAll(): Promise<void>;
}

/** One client (one connection pool, one token cache) per registry host. */
export function createRegistryPool(opts: RegistryPoolOptions): RegistryPool {
  const clients = new Map<string, RegistryClient>();
  const per = new Map<string, Partial<RegistryHostConfig>>();
  for (const [k, v] of opts.perRegistry ?? []) per.set(normaliseRegistry(k), v);
  const scoped = new Map<string, ScopedCredentials>();
  for (const [k, v] of opts.credentials ?? []) scoped.set(normaliseRegistry(k), v);
  // The flags' authfile is consulted after the registry's own creds, authfile and scoped credentials.
  const { credentials: _everyone, authfile: flagAuthfile, ...defaults } = opts.defaults;
  return {
    client(registry: string): RegistryClient {
      const key = normaliseRegistry(registry);
      let c = clients.get(key);
      if (!c) {
        const own = per.get(key) ?? {};
        const config: RegistryHostConfig = { ...defaults, ...stripUndefined(own) };
        const fallbackAuthfile = flagAuthfile && flagAuthfile !== own.authfile ? flagAuthfile : undefined;
        const fallbackCredentials = scoped.get(key);
        c = createRegistryClient(key, config, {
          ...opts.clientOptions,
          ...(fallbackAuthfile ? { fallbackAuthfile } : {}),
          ...(fallbackCredentials ? { fallbackCredentials } : {}),
        });
        clients.set(key, c);
      }
      return c;
    },
    async closeAll(): Promise<void> {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((c) => c.close()));
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
