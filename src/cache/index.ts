import { homedir } from 'node:os';
import { join } from 'node:path';
import { LayoutStore } from '../layout/index.js';

/**
 * The content-addressed download cache: an OCI layout's blob store, reused across exports so a
 * second export downloads nothing it already has. Every blob in it was verified on the way in.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'airlock', 'blobs');
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'airlock');
}

export async function openCache(dir: string | undefined, onBytes?: (n: number) => void): Promise<LayoutStore> {
  const store = new LayoutStore(dir ?? defaultCacheDir(), onBytes ? { onBytes } : {});
  await store.init();
  return store;
}
