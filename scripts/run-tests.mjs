#!/usr/bin/env node
// Runs the compiled tests with node's own runner. `node scripts/run-tests.mjs [unit|integration|e2e] [filter]`.
// Node 20's runner does not expand globs, so the files are listed here. Its closing summary
// (# pass / # fail) is what CI reads.
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test');
if (!existsSync(testRoot)) {
  console.error('dist/test is missing: run `npm run build` first (npm test does it for you)');
  process.exit(2);
}
const [area, filter] = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
for (const sub of area ? [area] : ['unit', 'integration', 'e2e']) {
  if (existsSync(join(testRoot, sub))) walk(join(testRoot, sub));
}
const selected = filter ? files.filter((f) => f.includes(filter)) : files;
if (selected.length === 0) {
  console.error('no test files found');
  process.exit(2);
}
const args = ['--enable-source-maps', '--test', '--test-reporter=spec', '--test-concurrency=2', ...selected];
console.error(`running ${selected.length} test files: ${selected.map((f) => relative(testRoot, f)).join(' ')}`);
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
