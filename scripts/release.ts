/**
 * `npm run release [-- --sign-key KEY] [--out DIR]`: Airlock for hosts with no npm registry,
 * built on this machine, offline, for its own platform (docs/RELEASE.md):
 *
 * - `airlock-<version>-<os>-<arch>`: a single executable. Node's own single-executable support
 *   (SEA, Node 20): a copy of the node binary running this script, with a blob injected by
 *   postject that holds the CLI as one CommonJS script, the worker scripts and the zstd addon
 *   (scripts/standalone-build.ts). Needs no node and no node_modules on the host.
 * - `airlock-<version>.tgz`: an npm package with every package the CLI needs inside it and no
 *   dependencies, for hosts that have Node: `npm install -g ./airlock-<version>.tgz --offline`.
 * - `THIRD-PARTY-LICENSES.txt`: the licenses of Node and of the packages both carry.
 * - `SHA256SUMS` over those files (`sha256sum -c SHA256SUMS`), and with `--sign-key` (a key from
 *   `airlock keys generate`) `SHA256SUMS.sig`, checkable with openssl alone (src/signing/detached.ts).
 *
 * Everything is made in a temporary directory inside DIR (default dist/release) and moved into
 * place at the end; a SHA256SUMS.sig left from an earlier release is removed when not signing.
 * Run `npm run build` first (`npm run release` does).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { inject } from 'postject';
import { loadPrivateKey, readPassphrase, signDetached, type SigningKey } from '../src/signing/index.js';
import { executableName } from '../src/version.js';
import { readBuildInfo, type BuildInfo } from './build-info.js';
import { buildPackageCli, buildSeaScripts, carriedPackages, zstdAddonPath } from './standalone-build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Node's SEA: the resource name and the fuse postject flips (docs: nodejs.org/api/single-executable-applications.html). */
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ZSTD_ASSET = 'zstd-napi.node';
export const SUMS_FILE = 'SHA256SUMS';
export const SUMS_SIGNATURE = 'SHA256SUMS.sig';
export const LICENSES_FILE = 'THIRD-PARTY-LICENSES.txt';

const log = (s: string): void => {
  process.stderr.write(`[release] ${s}\n`);
};

export interface ReleaseOptions {
  readonly out: string;
  readonly signKey?: SigningKey;
}

export interface ReleaseResult {
  readonly executable: string;
  readonly packageTarball: string;
  readonly sums: string;
  readonly signature?: string;
}

export async function release(opts: ReleaseOptions): Promise<ReleaseResult> {
  const info = readBuildInfo(ROOT);
  if (info.commit === 'unknown') log('not in a git checkout: the release records commit "unknown"');
  else if (info.commit.endsWith('-dirty')) log(`the work tree has uncommitted changes: the release records commit ${info.commit}`);
  const platform = `${process.platform}-${process.arch}`;
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/src is missing: run `npm run build` first');
  if (!existsSync(zstdAddonPath(ROOT))) throw new Error(`${zstdAddonPath(ROOT)} is missing: run \`npm ci\` (it builds zstd-napi)`);
  await mkdir(opts.out, { recursive: true });
  const work = await mkdtemp(join(opts.out, '.release-'));
  try {
    const exeName = executableName(info.version, platform);
    const exe = await buildExecutable(work, info, exeName);
    const tgz = await buildPackage(work, info, platform);
    const licenses = join(work, LICENSES_FILE);
    await writeFile(licenses, await licensesText(work));
    const files = [exe, tgz, licenses];
    const sumsText = (await Promise.all(files.map(async (f) => `${await sha256File(f)}  ${basename(f)}\n`))).join('');
    await writeFile(join(work, SUMS_FILE), sumsText);
    if (opts.signKey) await writeFile(join(work, SUMS_SIGNATURE), signDetached(Buffer.from(sumsText), opts.signKey));

    // Into place: the files first, the sums after them, the signature last.
    const names = [...files.map((f) => basename(f)), SUMS_FILE, ...(opts.signKey ? [SUMS_SIGNATURE] : [])];
    if (!opts.signKey) await rm(join(opts.out, SUMS_SIGNATURE), { force: true });
    for (const n of names) await rename(join(work, n), join(opts.out, n));
    const at = (n: string): string => join(opts.out, n);
    return {
      executable: at(exeName), packageTarball: at(basename(tgz)), sums: at(SUMS_FILE),
      ...(opts.signKey ? { signature: at(SUMS_SIGNATURE) } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The single executable: SEA blob → copy of this node binary → postject → a smoke test. */
async function buildExecutable(work: string, info: BuildInfo, name: string): Promise<string> {
  log(`bundling the CLI into one script (node ${process.version})`);
  const seaDir = join(work, 'sea');
  await mkdir(seaDir);
  const scripts = await buildSeaScripts(ROOT, seaDir, info, ZSTD_ASSET);
  await writeFile(join(seaDir, 'carried.json'), JSON.stringify(carriedPackages(ROOT, scripts.metafile)));
  const blob = join(seaDir, 'sea-prep.blob');
  const config = {
    main: scripts.main,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's code cache for the main script, made by this node binary: startup without compiling
    // the whole CLI first (docs/BENCHMARKS.md "The single executable").
    useCodeCache: true,
    assets: { [ZSTD_ASSET]: zstdAddonPath(ROOT), ...scripts.workers },
  };
  await writeFile(join(seaDir, 'sea-config.json'), JSON.stringify(config, null, 2));
  execFileSync(process.execPath, ['--experimental-sea-config', join(seaDir, 'sea-config.json')], { stdio: ['ignore', 'ignore', 'inherit'] });

  const exe = join(work, name);
  log(`injecting it into a copy of ${process.execPath}`);
  await copyFile(process.execPath, exe);
  await chmod(exe, 0o755);
  await inject(exe, SEA_RESOURCE, await readFile(blob), { sentinelFuse: SEA_FUSE });

  // Smoke test, in an empty environment: it must run as the single executable of this build.
  const r = spawnSync(exe, ['version', '--json'], { env: {}, encoding: 'utf8', cwd: work });
  let doc: { tool?: { version?: string; commit?: string }; singleExecutable?: boolean } = {};
  try {
    doc = JSON.parse(r.stdout) as typeof doc;
  } catch {
    // reported below
  }
  if (r.status !== 0 || doc.singleExecutable !== true || doc.tool?.version !== info.version || doc.tool?.commit !== info.commit) {
    throw new Error(`the executable does not run as built (exit ${r.status}): ${r.stdout}${r.stderr}`);
  }
  log(`${name}: runs (version ${info.version}, commit ${info.commit})`);
  return exe;
}

/** The offline npm package: the bundled CLI, the zstd addon beside it, no dependencies. */
async function buildPackage(work: string, info: BuildInfo, platform: string): Promise<string> {
  log('building the npm package');
  const pkg = join(work, 'package');
  const cliDir = join(pkg, 'dist', 'cli');
  const metafile = await buildPackageCli(ROOT, cliDir, info);
  await writeFile(join(work, 'package-carried.json'), JSON.stringify(carriedPackages(ROOT, metafile)));
  await copyFile(zstdAddonPath(ROOT), join(cliDir, ZSTD_ASSET));
  await mkdir(join(pkg, 'bin'));
  await writeFile(join(pkg, 'bin', 'airlock.js'), "#!/usr/bin/env node\n// The CLI and every package it uses are bundled in dist/cli (scripts/release.ts).\nimport '../dist/cli/main.js';\n", { mode: 0o755 });
  const source = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const [os, cpu] = platform.split('-');
  const manifest = {
    name: 'airlock',
    version: info.version,
    description: source.description,
    license: source.license,
    type: 'module',
    bin: { airlock: 'bin/airlock.js' },
    engines: source.engines,
    // The zstd addon inside is built for this platform only.
    os: [os],
    cpu: [cpu],
    files: ['bin', 'dist', 'README.md', 'SECURITY.md', LICENSES_FILE],
    airlock: { commit: info.commit, platform },
  };
  await writeFile(join(pkg, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const f of ['README.md', 'SECURITY.md']) await copyFile(join(ROOT, f), join(pkg, f));
  await writeFile(join(pkg, LICENSES_FILE), await licensesText(work, 'package'));
  // Offline by construction: pack reads only this directory; no scripts run.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--offline', '--pack-destination', work], {
    cwd: pkg, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
  const [packed] = JSON.parse(out) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed no result: ${out}`);
  return join(work, packed.filename);
}

interface Carried {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  readonly dir: string;
}

/** Node's license, zstd-napi's and zstd's (the addon), and those of the packages a build bundles. */
async function licensesText(work: string, which: 'all' | 'package' = 'all'): Promise<string> {
  const lists: Carried[][] = [];
  if (which === 'all') lists.push(JSON.parse(await readFile(join(work, 'sea', 'carried.json'), 'utf8')) as Carried[]);
  lists.push(JSON.parse(await readFile(join(work, 'package-carried.json'), 'utf8')) as Carried[]);
  const zstdNapi = join(ROOT, 'node_modules', 'zstd-napi');
  const zstdNapiPkg = JSON.parse(readFileSync(join(zstdNapi, 'package.json'), 'utf8')) as { version: string; license: string };
  lists.push([
    { name: 'zstd-napi', version: zstdNapiPkg.version, license: zstdNapiPkg.license, dir: zstdNapi },
    { name: 'zstd (inside zstd-napi)', version: '', license: 'BSD-3-Clause OR GPL-2.0', dir: join(zstdNapi, 'deps', 'zstd') },
  ]);
  const seen = new Map<string, Carried>();
  for (const p of lists.flat()) seen.set(`${p.name}@${p.version}@${p.dir}`, p);
  const parts = ['Third-party software carried by the Airlock release files (the single executable and the npm package).', ''];
  if (which === 'all') {
    const nodeLicense = join(dirname(process.execPath), '..', 'share', 'doc', 'nodejs', 'LICENSE');
    parts.push(`== Node.js ${process.version} (the single executable is its binary)`, '',
      existsSync(nodeLicense) ? readFileSync(nodeLicense, 'utf8') : `See https://github.com/nodejs/node/blob/${process.version}/LICENSE`, '');
  }
  for (const p of [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version))) {
    parts.push(`== ${p.name} ${p.version} (${p.license})`.replace('  (', ' ('), '', licenseFileOf(p.dir) ?? `(no license file in the package; its package.json says ${p.license})`, '');
  }
  return parts.join('\n');
}

function licenseFileOf(dir: string): string | undefined {
  const file = readdirSync(resolve(ROOT, dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return file ? readFileSync(join(resolve(ROOT, dir), file), 'utf8') : undefined;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'sign-key': { type: 'string' }, out: { type: 'string', default: join(ROOT, 'dist', 'release') } },
    strict: true,
  });
  const keyPath = values['sign-key'];
  // Loaded before the build: a wrong passphrase fails in a second, not after it.
  const signKey = keyPath ? await loadPrivateKey(keyPath, () => readPassphrase(`passphrase for ${keyPath}: `)) : undefined;
  const r = await release({ out: resolve(values.out!), ...(signKey ? { signKey } : {}) });
  const lines = [r.executable, r.packageTarball, r.sums, ...(r.signature ? [`${r.signature} (key ${signKey!.fingerprint})`] : [])];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!r.signature) log('not signed: pass --sign-key KEY (`airlock keys generate`) to sign SHA256SUMS');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`release failed: ${err instanceof Error ? (err as { code?: string }).code ? `${(err as { code?: string }).code}: ${err.message}` : err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
