import { homedir } from 'node:os';
import { join } from 'node:path';
import { DownloadCache } from './download-cache.js';

export { DownloadCache } from './download-cache.js';
export { ReadThroughSource, type ReadThroughOptions } from './read-through.js';

/**
 * The content-addressed download cache (download-cache.ts), reused across exports so a second
 * export downloads nothing it already has or already wrote into a bundle that is still there.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'airlock', 'blobs');
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'airlock');
}

export async function openCache(dir: string | undefined, onBytes?: (n: number) => void): Promise<DownloadCache> {
  const store = new DownloadCache(dir ?? defaultCacheDir(), onBytes ? { onBytes } : {});
  await store.init();
  return store;
}
