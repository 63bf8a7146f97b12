/**
 * Workers inside the single executable (scripts/release.ts puts this file in worker-start.ts's
 * place there). The executable has no worker files to start: each worker is built into one
 * CommonJS script of its own and carried as an SEA asset (`<name>.cjs`), read from the
 * executable itself and started with `eval: true`. The zstd worker loads the addon the main
 * thread already opened (zstd-binding.sea.ts): a line in front of its code names the path.
 */
import { getAsset } from 'node:sea';
import { Worker } from 'node:worker_threads';
import { ZSTD_ADDON_GLOBAL, loadedZstdAddonPath } from './zstd-binding.sea.js';
import type { WorkerName } from './worker-start.js';

export type { WorkerName } from './worker-start.js';

const sources = new Map<WorkerName, string>();

export function startWorker(name: WorkerName, workerData: unknown): Worker {
  let source = sources.get(name);
  if (source === undefined) sources.set(name, (source = getAsset(`${name}.cjs`, 'utf8')));
  const prelude = name === 'zstd-worker' ? `globalThis[Symbol.for(${JSON.stringify(ZSTD_ADDON_GLOBAL)})] = ${JSON.stringify(loadedZstdAddonPath())}; ` : '';
  return new Worker(prelude + source, { eval: true, workerData });
}
