#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled output (`npm run build`: dist/cli/airlock.cjs,
// bundled by scripts/bundle-cli.mjs from the modules tsc writes to dist/src), started with V8's
// code cache by dist/cli/launch.cjs (src/cli/launch.ts). CommonJS (bin/package.json): an ES
// module as the entry would cost node its ESM loader on every run.
require('../dist/cli/launch.cjs');
