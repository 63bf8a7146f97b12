import { Worker } from 'node:worker_threads';

/** The worker entry points of archive/, each a file beside the module that starts it. */
export type WorkerName = 'zstd-worker' | 'file-hasher-worker' | 'range-hasher-worker';

/**
 * Start one of archive/'s workers from its file: `dist/src/archive/<name>.js` for the compiled
 * modules, `dist/cli/<name>.js` beside the chunks of the bundled CLI (scripts/bundle-cli.mjs makes
 * the workers entry points of their own). The single executable has no such files: its build
 * (scripts/release.ts) puts worker-start.sea.ts in this module's place.
 */
export function startWorker(name: WorkerName, workerData: unknown): Worker {
  return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
}
