import { normaliseRegistry } from '../reference/index.js';
import { createRegistryClient } from './client.js';
import type { RegistryClient, RegistryClientOptions, RegistryHostConfig } from './types.js';

export interface RegistryPoolOptions {
  /** From the flags: applies to every registry. */
  readonly defaults: RegistryHostConfig;
  /** The mirror list's `registries:` section, keyed by registry host; wins over the defaults. */
  readonly perRegistry?: ReadonlyMap<string, Partial<RegistryHostConfig>>;
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
  return {
    client(registry: string): RegistryClient {
      const key = normaliseRegistry(registry);
      let c = clients.get(key);
      if (!c) {
        const own = per.get(key) ?? {};
        const config: RegistryHostConfig = { ...opts.defaults, ...stripUndefined(own) };
        // A per-registry authfile is read first; the --authfile flag stays a fallback.
        const fallbackAuthfile = own.authfile && opts.defaults.authfile && own.authfile !== opts.defaults.authfile ? opts.defaults.authfile : undefined;
        c = createRegistryClient(key, config, { ...opts.clientOptions, ...(fallbackAuthfile ? { fallbackAuthfile } : {}) });
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
