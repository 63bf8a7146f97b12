// The CLI as users run it (bin/airlock.js): the compiled modules (dist/src, from tsc) and the
// pure-JavaScript packages they import (yargs, undici, @sigstore/verify and what it uses, tar's
// header reader, yaml, semver), bundled into one CommonJS script, dist/cli/airlock.cjs, from the
// versions package-lock.json pins. bin/airlock.js starts it through dist/cli/launch.cjs
// (src/cli/launch.ts), which compiles it with V8's code cache: Node 20 keeps no code cache for ES
// modules, and a no-op re-import spent much of its CPU parsing and compiling the same code again
// (docs/BENCHMARKS.md, "No-op re-import, 2026-12-07 (afternoon)"). Commands and rarely used
// libraries stay lazy: their `import()`s become `require()`s that run only when reached. Left out,
// loaded from node_modules as they are: zstd-napi (a native addon) and @sigstore/sign (loaded
// only to sign, with its own HTTP stack). undici is bundled through registry/undici-agent.bundled
// (the `cli` flavour of scripts/standalone-build.ts), by the same paths as undici-agent.ts.
// Tests of the modules import dist/src directly; the integration tests run this script through
// bin/airlock.js.
// The workers are ES modules of their own beside it (src/archive/worker-start.ts:
// `new URL('./zstd-worker.js', import.meta.url)`, where import.meta.url is the script's URL).
// The version and the commit are recorded in the bundle (scripts/build-info.ts, src/version.ts):
// `airlock version` prints them.
// yargs' translations are not carried (its locale files are looked up beside its code): its
// messages are in English, as all of airlock's are.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildDefines, readBuildInfo } from '../dist/scripts/build-info.js';
import { siblingsPlugin, undiciPlugin } from '../dist/scripts/standalone-build.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/cli`;
const defines = buildDefines(readBuildInfo(root));
await rm(outdir, { recursive: true, force: true });

// The workers: ES modules (with their shared chunks), started by file.
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/archive/zstd-worker.js', 'dist/src/archive/file-hasher-worker.js', 'dist/src/archive/range-hasher-worker.js'],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['zstd-napi', 'zstd-napi/*'],
  banner: { js: "import { createRequire as __airlockRequire } from 'node:module'; const require = __airlockRequire(import.meta.url);" },
  define: defines,
  sourcemap: true,
  logLevel: 'warning',
});

// The CLI: one CommonJS script, already wrapped in the function node wraps such a module in (the
// same five arguments): launch.ts compiles the file as it is, and calls that function with a real
// `require` (for zstd-napi and @sigstore/sign). import.meta.url is the script's own URL.
const cli = `${outdir}/airlock.cjs`;
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js'],
  outfile: cli,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // import() becomes a require() that runs when reached: commands and libraries load lazily.
  supported: { 'dynamic-import': false },
  external: ['zstd-napi', 'zstd-napi/*', '@sigstore/sign', '@sigstore/sign/*'],
  // Strict, as the ES modules it is made of (a "use strict" after the banner would not count).
  banner: { js: "(function (exports, require, module, __filename, __dirname) {'use strict';var __airlockImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  footer: { js: '})' },
  define: { ...defines, 'import.meta.url': '__airlockImportMetaUrl' },
  plugins: [siblingsPlugin(root, 'cli'), undiciPlugin(root)],
  // ASCII (esbuild escapes the rest; comments go): launch.ts reads the script as latin1, and V8
  // checks a code cache against the source's length. Minified (whitespace and syntax, names
  // kept): 2.4 → 1.4 MB to read and, without a cache, to parse.
  charset: 'ascii',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
const text = await readFile(cli);
if (text.some((b) => b > 0x7f)) throw new Error(`${cli} is not ASCII`);

// The launcher, with the script's sha256 (the code cache's files are named by it). CommonJS, as
// bin/airlock.js is (bin/package.json): an ES module entry costs node its ESM loader, ~5-10 ms.
await build({
  absWorkingDir: root,
  stdin: { contents: "import { launch } from './dist/src/cli/launch.js';\nlaunch();\n", resolveDir: root, sourcefile: 'launch-entry.js' },
  outfile: `${outdir}/launch.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { AIRLOCK_CLI_SHA256: JSON.stringify(createHash('sha256').update(text).digest('hex')), 'import.meta.url': '__airlockLaunchUrl' },
  banner: { js: "var __airlockLaunchUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
