#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled output (`npm run build`).
import '../dist/src/cli/main.js';
