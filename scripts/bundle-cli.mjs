// The CLI as users run it (bin/airlock.js): the compiled modules (dist/src, from tsc) and the
// pure-JavaScript packages they import (yargs, @sigstore/verify and what it uses, tar's header
// reader, yaml, semver), bundled into a few files under dist/cli from the versions
// package-lock.json pins. Node loads every file of a module graph one at a time (resolve, read,
// compile, link): ~170 of ours and ~150 of those packages' for a no-op re-import, which started
// ~65 ms sooner bundled (docs/BENCHMARKS.md). Left out, loaded from node_modules as they are:
// zstd-napi (a native addon), undici (src/registry/undici-agent.ts loads parts of it by path)
// and @sigstore/sign (loaded only to sign, with its own HTTP stack). Tests of the modules import
// dist/src directly; the integration tests run this bundle through bin/airlock.js.
// Worker entry points sit beside the chunks that start them (src/archive/worker-start.ts:
// `new URL('./zstd-worker.js', import.meta.url)`). The version and the commit are recorded in
// the bundle (scripts/build-info.ts, src/version.ts): `airlock version` prints them.
// yargs' translations are not carried (its locale files are looked up beside its code): its
// messages are in English, as all of airlock's are.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildDefines, readBuildInfo } from '../dist/scripts/build-info.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js', 'dist/src/archive/zstd-worker.js', 'dist/src/archive/file-hasher-worker.js', 'dist/src/archive/range-hasher-worker.js'],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['zstd-napi', 'zstd-napi/*', 'undici', 'undici/*', '@sigstore/sign', '@sigstore/sign/*'],
  // CommonJS packages call require() for Node's own modules.
  banner: { js: "import { createRequire as __airlockRequire } from 'node:module'; const require = __airlockRequire(import.meta.url);" },
  // yargs' CommonJS build (src/cli/yargs-cjs.cts) names its locale directory by __dirname, which
  // an ES module does not have: give it this chunk's directory (no locales there: English).
  define: { ...buildDefines(readBuildInfo(root)), __dirname: 'import.meta.dirname' },
  sourcemap: true,
  logLevel: 'warning',
});
