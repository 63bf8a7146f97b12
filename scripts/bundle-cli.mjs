// The CLI as users run it (bin/airlock.js): the compiled modules (dist/src, from tsc) bundled
// into a few files under dist/cli, npm packages left as they are. Node loads ~170 files of ours
// one at a time otherwise (resolve, read, compile, link each); bundled, a no-op re-import starts
// ~35 ms sooner (docs/BENCHMARKS.md). Tests of the modules themselves import dist/src directly.
// Worker entry points sit beside the chunks that start them (`new URL('./zstd-worker.js',
// import.meta.url)`), and src/version.ts finds package.json two levels up from either place.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js', 'dist/src/archive/zstd-worker.js', 'dist/src/archive/file-hasher-worker.js'],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
