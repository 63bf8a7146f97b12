/**
 * The two builds that carry every package inside them, for hosts with no npm registry
 * (scripts/release.ts): the single executable's scripts, and the CLI of the offline npm package.
 * Both start from the compiled modules (dist/src, from tsc) like scripts/bundle-cli.mjs, and
 * differ from it in three places, where a module has a sibling of the same name plus a flavour:
 *
 * | module (normal build)            | single executable            | npm package                     |
 * |----------------------------------|------------------------------|---------------------------------|
 * | zstd-napi/binding.js (node_modules) | archive/zstd-binding.sea: an SEA asset, loaded from a private temporary file | archive/zstd-binding.package: `zstd-napi.node` beside the chunks |
 * | archive/worker-start (worker files) | archive/worker-start.sea: worker scripts as SEA assets, `eval` workers | the same as the normal build |
 * | registry/undici-agent (undici by path from node_modules) | registry/undici-agent.bundled | registry/undici-agent.bundled |
 *
 * Each sibling exports what the module it replaces exports (test/unit/archive/standalone.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, resolve, sep } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { buildDefines, type BuildInfo } from './build-info.js';

/** `cli`: the node CLI's CommonJS script (scripts/bundle-cli.mjs), which runs beside node_modules. */
export type Flavour = 'sea' | 'package' | 'cli';

/** Sibling suffixes tried in order, per flavour. */
const SIBLINGS: Readonly<Record<Flavour, readonly string[]>> = { sea: ['sea', 'bundled'], package: ['package', 'bundled'], cli: ['bundled'] };

/**
 * Optional packages that bundled code asks for inside try/catch and that are not installed
 * (debug's `supports-color`): answered by a module that fails as a missing one does, so the
 * standalone builds behave like the normal one and never reach Node's require for them. (The
 * single executable's require never loads from disk: it throws ERR_UNKNOWN_BUILTIN_MODULE, with a
 * warning on stderr.) In the executable, Node modules its node does not have (`node:sqlite`,
 * which undici probes for inside try/catch) fail as that node fails them, without the warning.
 */
const ABSENT_OPTIONAL = ['supports-color'];

/** The zstd addon as built by `npm ci` (node-gyp). */
export function zstdAddonPath(root: string): string {
  return join(root, 'node_modules', 'zstd-napi', 'build', 'Release', 'binding.node');
}

/**
 * Resolve imports of the compiled modules to their flavour's siblings, and zstd-napi's binding to
 * its own (the `cli` flavour leaves zstd-napi to node_modules).
 */
export function siblingsPlugin(root: string, flavour: Flavour): Plugin {
  const distSrc = join(root, 'dist', 'src') + sep;
  const sibling = (file: string): string | undefined => {
    for (const s of SIBLINGS[flavour]) {
      const candidate = file.replace(/\.js$/, `.${s}.js`);
      if (existsSync(candidate)) return candidate;
    }
    return undefined;
  };
  return {
    name: 'airlock-siblings',
    setup(b) {
      const absent = new RegExp(`^(${ABSENT_OPTIONAL.join('|')})$`);
      b.onResolve({ filter: absent }, (args) => ({ path: args.path, namespace: 'airlock-absent' }));
      // Only in the executable, which runs on this very node; the package runs on any Node ≥ 20.17.
      if (flavour === 'sea') b.onResolve({ filter: /^node:/ }, (args) => (isBuiltin(args.path) ? undefined : { path: args.path, namespace: 'airlock-absent' }));
      b.onLoad({ filter: /.*/, namespace: 'airlock-absent' }, (args) => ({
        contents: args.path.startsWith('node:')
          ? `throw Object.assign(new Error(${JSON.stringify(`No such built-in module: ${args.path}`)}), { code: 'ERR_UNKNOWN_BUILTIN_MODULE' });`
          : `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}'`)}), { code: 'MODULE_NOT_FOUND' });`,
        loader: 'js',
      }));
      if (flavour !== 'cli') b.onResolve({ filter: /^zstd-napi\/binding\.js$/ }, () => {
        const path = sibling(join(distSrc, 'archive', 'zstd-binding.js'));
        if (!path) throw new Error(`no zstd-binding sibling for the ${flavour} build in ${distSrc}archive`);
        return { path };
      });
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        if (!file.startsWith(distSrc)) return undefined;
        const path = sibling(file);
        return path ? { path } : undefined;
      });
    },
  };
}

/**
 * Three changes to undici's code in the bundled builds, each checked: a build of another undici
 * whose files no longer have the line fails here, so the change is made again or dropped on
 * purpose.
 * - Its HTTP/1 client requires its HTTP/2 one at the top (client.js: `const connectH2 =
 *   require('./client-h2.js')`), which loads node:http2 (~8 ms of start-up). airlock never offers
 *   h2 (no `allowH2`), so connectH2 is never called: it is required on first call instead.
 * - llhttp is compiled through src/registry/llhttp-tiering.ts (client-h1.js: `llhttpInstance =
 *   lazyllhttp()`), which keeps it out of TurboFan without leaving a V8 flag changed.
 * - A dispatcher closed without an error (`close()`, as every command ends) destroys each of its
 *   sockets with a new ClientDestroyedError (dispatcher-base.js), and node's streams read the
 *   `stack` of the error a socket is destroyed with (streams/destroy.js `checkError`). Formatting
 *   a stack with a frame in the bundled script makes V8 find the line ends of its 1.7 MB source
 *   first: 19 M of a no-op re-import's 0.9 G instructions, for stacks no one sees. That error is
 *   made without frames (its message and name are unchanged; an error given to destroy() keeps
 *   its own stack) (docs/BENCHMARKS.md, "No-op re-import, 2026-12-07 (evening)").
 */
export function undiciPlugin(root: string): Plugin {
  const tiering = join(root, 'dist', 'src', 'registry', 'llhttp-tiering.js');
  const edits: { file: RegExp; line: string; by: string }[] = [
    {
      file: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/,
      line: "const connectH2 = require('./client-h2.js')",
      by: "const connectH2 = (client, socket) => require('./client-h2.js')(client, socket)",
    },
    {
      file: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h1\.js$/,
      line: 'llhttpInstance = lazyllhttp()',
      by: `llhttpInstance = require(${JSON.stringify(tiering)}).compileLlhttp(lazyllhttp)`,
    },
    {
      file: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]dispatcher-base\.js$/,
      line: 'if (!err) {\n      err = new ClientDestroyedError()\n    }',
      by: 'if (!err) {\n      const limit = Error.stackTraceLimit\n      Error.stackTraceLimit = 0\n      err = new ClientDestroyedError()\n      Error.stackTraceLimit = limit\n    }',
    },
  ];
  return {
    name: 'airlock-undici',
    setup(b) {
      for (const e of edits) {
        b.onLoad({ filter: e.file }, async (args) => {
          const text = await readFile(args.path, 'utf8');
          if (text.split(e.line).length !== 2) throw new Error(`${args.path}: not exactly one \`${e.line}\` to change (another undici?)`);
          return { contents: text.replace(e.line, e.by), loader: 'js' };
        });
      }
    },
  };
}

/** The packages (name@version, license) a build carries, from esbuild's metafile. */
export function carriedPackages(root: string, metafile: Metafile): { name: string; version: string; license: string; dir: string }[] {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]!);
  }
  return [...dirs].sort().map((d) => {
    const dir = join(root, d);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    return { name: pkg.name, version: pkg.version, license: pkg.license ?? 'see its files', dir };
  });
}

export interface SeaScripts {
  /** The main script: one CommonJS file, every package inside. */
  readonly main: string;
  /** Worker scripts, by the name worker-start.sea.ts asks for (`zstd-worker.cjs`). */
  readonly workers: Readonly<Record<string, string>>;
  readonly metafile: Metafile;
}

/**
 * The single executable's scripts: Node 20's SEA runs one CommonJS script whose `require` knows
 * only Node's own modules, so everything is bundled into it; the workers are scripts of their own.
 */
export async function buildSeaScripts(root: string, outDir: string, info: BuildInfo, zstdAsset: string): Promise<SeaScripts> {
  const define = {
    ...buildDefines(info),
    AIRLOCK_SEA_ZSTD_ASSET: JSON.stringify(zstdAsset),
    AIRLOCK_SEA_ZSTD_SHA256: JSON.stringify(createHash('sha256').update(readFileSync(zstdAddonPath(root))).digest('hex')),
    // A module that still asked for its own URL would get nothing useful in the executable: make
    // such a use fail loudly (ReferenceError) rather than quietly resolve against nothing.
    'import.meta.url': 'AIRLOCK_SEA_HAS_NO_IMPORT_META_URL',
  };
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'cjs' as const,
    platform: 'node' as const,
    target: 'node20',
    define,
    plugins: [siblingsPlugin(root, 'sea'), undiciPlugin(root)],
    legalComments: 'none' as const,
    logLevel: 'warning' as const,
    metafile: true,
  };
  const main = join(outDir, 'airlock.cjs');
  const r = await build({ ...common, entryPoints: ['dist/src/cli/main.js'], outfile: main });
  const workers: Record<string, string> = {};
  for (const name of ['zstd-worker', 'file-hasher-worker', 'range-hasher-worker']) {
    workers[`${name}.cjs`] = join(outDir, `${name}.cjs`);
    await build({ ...common, entryPoints: [`dist/src/archive/${name}.js`], outfile: workers[`${name}.cjs`]!, metafile: false });
  }
  for (const file of [main, ...Object.values(workers)]) assertOnlyBuiltinRequires(file);
  return { main, workers, metafile: r.metafile! };
}

/**
 * In the single executable, `require` knows only Node's own modules: a require of anything else
 * left in a script (esbuild leaves one it cannot resolve inside try/catch) would fail there, or
 * warn. Refuse to build such a script.
 */
function assertOnlyBuiltinRequires(file: string): void {
  const text = readFileSync(file, 'utf8');
  const others = [...new Set([...text.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!))].filter((id) => !isBuiltin(id));
  if (others.length > 0) throw new Error(`${file} still requires ${others.join(', ')}: bundle them, or list them in ABSENT_OPTIONAL if they are optional and absent`);
}

/**
 * The offline npm package's CLI: the normal build's chunks (ES modules, commands loaded lazily),
 * with every package inside and the zstd addon beside them.
 */
export async function buildPackageCli(root: string, outDir: string, info: BuildInfo): Promise<Metafile> {
  const r = await build({
    absWorkingDir: root,
    entryPoints: ['dist/src/cli/main.js', 'dist/src/archive/zstd-worker.js', 'dist/src/archive/file-hasher-worker.js', 'dist/src/archive/range-hasher-worker.js'],
    outdir: outDir,
    entryNames: '[name]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: { js: "import { createRequire as __airlockRequire } from 'node:module'; const require = __airlockRequire(import.meta.url);" },
    // yargs' CommonJS build (src/cli/yargs-cjs.cts) names its locale directory by __dirname, which
    // an ES module does not have: this chunk's directory (no locales there: English).
    define: { ...buildDefines(info), __dirname: 'import.meta.dirname' },
    plugins: [siblingsPlugin(root, 'package'), undiciPlugin(root)],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  return r.metafile!;
}
