/**
 * docs/ARCHITECTURE.md "The floors", enforced by reading every import line under src/:
 * - dependency direction: cli → ops → {copy, bundle, mirror, signing, deploy, charts, files, cache}
 *   → {registry, layout, archive, content} → {oci, reference} → {errors, log, util}; lower layers
 *   never import upper ones, and modules never import each other in a cycle;
 * - no two files import each other, directly or around a loop (type-only imports count too: a type
 *   cycle is a design cycle), and a module is entered only through its index.ts;
 * - one module per dependency: only registry/ imports undici, only signing/ imports @sigstore/* and tweetnacl, only serve/ imports bcryptjs,
 *   only archive/ imports tar and zstd-napi, only mirror/ imports jsonpath-rfc9535, only mirror/ and deploy/ import yaml
 *   (deploy/ rewrites vendor values and Compose files in place, keeping their comments), only cli/ imports yargs;
 * - every declared runtime dependency is imported somewhere under src/ (none carried for nothing);
 * - libraries never print: no console.* and no process.stdout/stderr below src/cli/;
 * - the top-level trees (every import line under src/, test/, scripts/ and fixtures/): src/ imports
 *   none of the others, fixtures/ (the generators and the harness) only src/, and test/ and scripts/
 *   only src/ and fixtures/, never each other;
 * - cli/ goes through ops/: every command's work is a use case in ops/; cli/ itself imports only
 *   ops/ and the floors it parses flags and renders with (CLI_MAY_IMPORT), and names the option,
 *   result and event types of lower floors through ops/index.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = join(ROOT, 'src');

const LAYER: Readonly<Record<string, number>> = {
  cli: 6,
  ops: 5,
  copy: 4, bundle: 4, mirror: 4, signing: 4, deploy: 4, charts: 4, files: 4, cache: 4, serve: 4,
  registry: 3, layout: 3, archive: 3, content: 3, tarball: 3,
  oci: 2, reference: 2,
  errors: 1, log: 1, util: 1, version: 1,
};

/** Which src/ module alone may import a package (prefix match on the package name; `a,b`: either of two). */
const PACKAGE_OWNER: readonly (readonly [RegExp, string])[] = [
  [/^undici(\/|$)/, 'registry'],
  [/^@sigstore\//, 'signing'],
  [/^tweetnacl(\/|$)/, 'signing'],
  [/^bcryptjs(\/|$)/, 'serve'],
  [/^tar(\/|$)/, 'archive'],
  [/^zstd-napi(\/|$)/, 'archive'],
  [/^yaml(\/|$)/, 'mirror,deploy'],
  [/^jsonpath-rfc9535(\/|$)/, 'mirror'],
  [/^yargs(\/|$)/, 'cli'],
];

/**
 * The terminal below cli/, by design and nowhere else: the hidden key-passphrase prompt (its file
 * says why: every command that loads a key needs the same prompt, and ops/export loads one).
 * Moving it up means a passphrase callback in ExportOptions; until then it is listed here so that
 * no other file starts writing to stderr.
 */
const STDERR_ALLOWED: readonly string[] = ['src/signing/passphrase.ts'];

/**
 * What cli/ may import besides itself: ops/ (the use cases, and the types of their options, results
 * and events, re-exported there), the pure-data floors that flag parsing and rendering need: oci/
 * (parseDigest, shortDigest) and reference/ (a reference or a target parsed once, at the edge), and
 * the bottom floor: util/ (formatBytes, parseSize, parseDuration), errors, log and version.
 */
const CLI_MAY_IMPORT: ReadonlySet<string> = new Set(['ops', 'oci', 'reference', 'util', 'errors', 'log', 'version']);

interface ImportLine {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Blank out comments (keeping line numbers) so commented code and prose do not count. */
function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, (_m, pre: string) => pre);
}

function importsOf(file: string): ImportLine[] {
  const text = stripComments(readFileSync(file, 'utf8'));
  const out: ImportLine[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      out.push({ file, line: text.slice(0, m.index).split('\n').length, specifier: m[1]! });
    }
  }
  return out;
}

/** `src/registry/client.ts` → 'registry'; `src/errors.ts` → 'errors'. */
function moduleOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

/** The src/ file an import line names, or undefined for a package or a file outside src/. */
function targetFile(imp: ImportLine): string | undefined {
  if (!imp.specifier.startsWith('.')) return undefined;
  const abs = resolve(dirname(imp.file), imp.specifier.replace(/\.js$/, '.ts'));
  return abs.startsWith(SRC) ? abs : undefined;
}

function targetModule(imp: ImportLine): string | undefined {
  const file = targetFile(imp);
  return file === undefined ? undefined : moduleOf(file);
}

/** Every cycle a depth-first walk of `edges` meets, each as `a → b → a`. */
function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>, name: (node: string) => string = (n) => n): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...path.slice(path.indexOf(node)), node].map(name).join(' → '));
      return;
    }
    state.set(node, 'open');
    for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of edges.keys()) visit(node, []);
  return cycles;
}

const FILES = sourceFiles(SRC);
const IMPORTS = FILES.flatMap(importsOf);
const where = (i: ImportLine): string => `${relative(ROOT, i.file)}:${i.line} imports ${i.specifier}`;

describe('architecture (docs/ARCHITECTURE.md)', () => {
  it('finds the source tree and its import lines', () => {
    assert.ok(FILES.length > 50, `only ${FILES.length} files under ${SRC}`);
    assert.ok(IMPORTS.length > 200);
    for (const f of FILES) assert.ok(LAYER[moduleOf(f)] !== undefined, `${relative(ROOT, f)}: module ${moduleOf(f)} has no layer in this test; add it`);
  });

  it('lower layers never import upper ones', () => {
    const bad: string[] = [];
    for (const i of IMPORTS) {
      const from = moduleOf(i.file);
      const to = targetModule(i);
      if (to === undefined || to === from) continue;
      if ((LAYER[to] ?? 0) > (LAYER[from] ?? 0)) bad.push(`${where(i)} (${from} is below ${to})`);
    }
    assert.deepEqual(bad, []);
  });

  it('modules do not import each other in a cycle', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of IMPORTS) {
      const from = moduleOf(i.file);
      const to = targetModule(i);
      if (to === undefined || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
    assert.deepEqual(cyclesOf(edges), []);
  });

  it('files do not import each other in a cycle (type-only imports included)', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of IMPORTS) {
      const to = targetFile(i);
      if (to === undefined) continue;
      if (!edges.has(i.file)) edges.set(i.file, new Set());
      edges.get(i.file)!.add(to);
    }
    assert.deepEqual(cyclesOf(edges, (f) => relative(SRC, f)), []);
  });

  it('cli/ goes through ops/: it imports only ops/ and the pure floors (CLI_MAY_IMPORT)', () => {
    const bad = IMPORTS.filter((i) => moduleOf(i.file) === 'cli')
      .filter((i) => { const to = targetModule(i); return to !== undefined && to !== 'cli' && !CLI_MAY_IMPORT.has(to); })
      .map((i) => `${where(i)} (give the command a use case in ops/, or re-export the type from ops/index.ts)`);
    assert.deepEqual(bad, []);
  });

  it('another module is entered only through its index.ts', () => {
    const bad: string[] = [];
    for (const i of IMPORTS) {
      const to = targetFile(i);
      if (to === undefined) continue;
      const from = moduleOf(i.file);
      const target = moduleOf(to);
      if (target === from || relative(SRC, to).split('/').length === 1) continue;
      if (relative(join(SRC, target), to) !== 'index.ts') bad.push(`${where(i)} (use ../${target}/index.js)`);
    }
    assert.deepEqual(bad, []);
  });

  it('each third-party dependency is imported by its one module only', () => {
    const bad: string[] = [];
    for (const i of IMPORTS) {
      if (i.specifier.startsWith('.') || i.specifier.startsWith('node:')) continue;
      for (const [re, owner] of PACKAGE_OWNER) {
        if (re.test(i.specifier) && !owner.split(',').includes(moduleOf(i.file))) bad.push(`${where(i)} (only ${owner.split(',').join('/ or ')}/ may)`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('every runtime dependency in package.json is imported by src/', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const imported = new Set(IMPORTS.filter((i) => !i.specifier.startsWith('.') && !i.specifier.startsWith('node:'))
      .map((i) => (i.specifier.startsWith('@') ? i.specifier.split('/').slice(0, 2).join('/') : i.specifier.split('/')[0]!)));
    const unused = Object.keys(pkg.dependencies ?? {}).filter((d) => !imported.has(d));
    assert.deepEqual(unused, [], 'declared in package.json "dependencies" but imported nowhere under src/: drop them or use them');
  });

  it('nothing below src/cli/ prints: no console.*, no process.stdout, process.stderr only where allowed', () => {
    const bad: string[] = [];
    for (const f of FILES) {
      if (moduleOf(f) === 'cli') continue;
      const rel = relative(ROOT, f);
      stripComments(readFileSync(f, 'utf8')).split('\n').forEach((line, n) => {
        if (/\bconsole\.\w+\s*\(|\bprocess\.stdout\b/.test(line)) bad.push(`${rel}:${n + 1}: ${line.trim()}`);
        else if (/\bprocess\.stderr\b/.test(line) && !STDERR_ALLOWED.includes(rel)) bad.push(`${rel}:${n + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(bad, []);
  });

  it('the checks catch what they should (self-test on made-up lines)', () => {
    const fake = join(SRC, 'oci', 'fake.ts');
    assert.equal(targetModule({ file: fake, line: 1, specifier: '../registry/index.js' }), 'registry');
    assert.equal(moduleOf(join(SRC, 'errors.ts')), 'errors');
    assert.deepEqual(cyclesOf(new Map([['a', new Set(['b'])], ['b', new Set(['a'])], ['c', new Set(['a'])]])), ['a → b → a']);
    assert.ok(PACKAGE_OWNER.some(([re]) => re.test('@sigstore/verify')));
    for (const m of ['registry', 'signing', 'bundle', 'copy', 'deploy']) assert.ok(!CLI_MAY_IMPORT.has(m), `cli/ reaches ${m}/ only through ops/`);
    assert.match(stripComments('const a = 1; // console.log(x)\n/* process.stdout */'), /^const a = 1; \n/);
  });
});

// The top-level trees: one home for the fixtures and the harness (fixtures/), so that test/ and
// scripts/ share it instead of importing each other, and src/ ships without any of them.

/** Which trees each top-level tree may import (a file under dist/ counts as the tree it was compiled from). */
const TREE_MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  src: ['src'],
  fixtures: ['fixtures', 'src'],
  test: ['test', 'fixtures', 'src'],
  scripts: ['scripts', 'fixtures', 'src'],
};

/** Every TypeScript or JavaScript source file under `dir` (no declaration files, no dot or node_modules folders). */
function treeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...treeFiles(p));
    else if (/\.[cm]?[jt]s$/.test(name) && !/\.d\.[cm]?ts$/.test(name)) out.push(p);
  }
  return out;
}

/** `test/unit/x.test.ts` → 'test'; `dist/scripts/build-info.js` → 'scripts'; `package.json` → 'package.json'. */
function treeOf(path: string): string {
  const rel = relative(ROOT, path).split('/');
  return (rel[0] === 'dist' && rel.length > 1 ? rel[1] : rel[0])!;
}

/** What is wrong with an import line that crosses into a tree its own tree may not import, or undefined. */
function treeProblem(imp: ImportLine): string | undefined {
  if (!imp.specifier.startsWith('.')) return undefined;
  const from = treeOf(imp.file);
  const to = treeOf(resolve(dirname(imp.file), imp.specifier));
  const allowed = TREE_MAY_IMPORT[from] ?? [];
  return allowed.includes(to) ? undefined : `${where(imp)} (${from}/ may import only ${allowed.map((t) => `${t}/`).join(', ')})`;
}

describe('architecture: the top-level trees (docs/ARCHITECTURE.md)', () => {
  const files = Object.keys(TREE_MAY_IMPORT).flatMap((tree) => treeFiles(join(ROOT, tree)));
  const imports = files.flatMap(importsOf);

  it('finds every tree and the imports between them', () => {
    for (const tree of Object.keys(TREE_MAY_IMPORT)) {
      assert.ok(files.some((f) => treeOf(f) === tree), `no source files under ${tree}/`);
    }
    const crossings = new Set(imports.map((i) => `${treeOf(i.file)} → ${treeOf(resolve(dirname(i.file), i.specifier))}`));
    for (const seen of ['test → fixtures', 'scripts → fixtures', 'fixtures → src', 'test → src']) assert.ok(crossings.has(seen), `no import ${seen}`);
  });

  it('test/ and scripts/ never import each other; fixtures/ imports only src/; src/ imports none of them', () => {
    assert.deepEqual(imports.map(treeProblem).filter((p) => p !== undefined), []);
  });

  it('the tree check catches what it should (self-test on made-up lines)', () => {
    const line = (file: string, specifier: string): ImportLine => ({ file: join(ROOT, file), line: 1, specifier });
    assert.match(treeProblem(line('test/integration/a.test.ts', '../../scripts/bench.js')) ?? '', /test\/ may import only/);
    assert.match(treeProblem(line('scripts/bench.ts', '../test/integration/harness/registry.js')) ?? '', /scripts\/ may import only/);
    assert.match(treeProblem(line('fixtures/harness/a.ts', '../../test/helpers/assert.js')) ?? '', /fixtures\/ may import only/);
    assert.match(treeProblem(line('fixtures/generate/a.ts', '../../scripts/demo.js')) ?? '', /fixtures\/ may import only/);
    assert.match(treeProblem(line('src/oci/a.ts', '../../fixtures/generate/index.js')) ?? '', /src\/ may import only/);
    assert.match(treeProblem(line('src/version.ts', '../package.json')) ?? '', /src\/ may import only/);
    assert.equal(treeProblem(line('test/unit/a.test.ts', '../../fixtures/harness/registry.js')), undefined);
    assert.equal(treeProblem(line('scripts/bundle-cli.mjs', '../dist/scripts/build-info.js')), undefined);
    assert.equal(treeProblem(line('fixtures/harness/a.ts', '../generate/index.js')), undefined);
    assert.equal(treeProblem(line('test/unit/a.test.ts', 'node:fs')), undefined);
  });
});
