#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled output (`npm run build`: dist/cli/airlock.cjs,
// bundled by scripts/bundle-cli.mjs from the modules tsc writes to dist/src), started with V8's
// code cache by dist/cli/launch.js (src/cli/launch.ts).
import '../dist/cli/launch.js';
