#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled output (`npm run build`: dist/cli, bundled by
// scripts/bundle-cli.mjs from the modules tsc writes to dist/src).
import '../dist/cli/main.js';
