/**
 * `npm run bench [-- --runs N --profile small|large --only export,import,noop,verify,delta,plan,memory,executable,floor]
 *   [--compare OTHER/bin/airlock.js] [--compression-level L] [--json FILE] [--keep]`
 *
 * Airlock against skopeo (the peer) in ONE run, on loopback registries, alternating the tools
 * run by run: export, import into an empty registry, no-op re-import, verify (against sha256sum
 * and openssl over the same blob bytes), delta export, planning a 2,000-image mirror list, and
 * peak RSS of export and import on the profile doubled (a second seed) against the profile itself,
 * and the single executable (`npm run release`) against the node CLI: startup and no-op re-import;
 * and the floors (`floor`): node's own start-up, and a bare node loop over the bundle's bytes
 * (read → SHA-256 → loopback send, scripts/bench/floor.ts) beside the import's client CPU.
 * Every figure is the median of `--runs` runs of a spawned CLI: wall time, client CPU, peak RSS,
 * bytes written to disk, bytes over loopback, registry CPU. Prints a table; writes JSON
 * (`--json FILE`, default `.cache/bench/latest.json`). Method and figures: docs/BENCHMARKS.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRegistry, type TestRegistry } from '../fixtures/harness/registry.js';
import { seedRegistry, type SeededImage } from '../fixtures/harness/fixtures.js';
import { SKOPEO_BIN } from '../fixtures/harness/skopeo.js';
import { measure, medianOf, type Measurement, type MeasuredRun } from './bench/measure.js';
import { seedBulk } from './bench/bulk.js';
import { formatTable, type Row } from './bench/report.js';
import { formatBytes } from '../src/util/index.js';
import { DEFAULT_SEED } from '../fixtures/generate/index.js';
import { TOOL_VERSION, executableName } from '../src/version.js';
import { helpRequested } from './usage.js';

helpRequested(`usage: npm run bench [-- --runs N --profile small|large --only export,import,noop,verify,delta,plan,memory,executable,floor]
       [--compare OTHER/bin/airlock.js] [--compression-level L] [--json FILE] [--keep]
Airlock against skopeo in one run on loopback registries; method and figures in docs/BENCHMARKS.md.`);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'airlock.js');
const PHASES = ['export', 'import', 'noop', 'verify', 'delta', 'plan', 'memory', 'executable', 'floor'] as const;
type Phase = (typeof PHASES)[number];

interface Args {
  runs: number;
  profile: 'small' | 'large';
  only: Set<Phase>;
  json: string;
  level: number | undefined;
  bulk: number;
  keep: boolean;
  compare: string | undefined;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      profile: { type: 'string', default: 'large' },
      only: { type: 'string' },
      json: { type: 'string', default: join(ROOT, '.cache', 'bench', 'latest.json') },
      'compression-level': { type: 'string' },
      bulk: { type: 'string', default: '2000' },
      keep: { type: 'boolean', default: false },
      compare: { type: 'string' },
    },
    strict: true,
  });
  const only = new Set<Phase>((values.only ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as Phase[]);
  for (const p of only) if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}; phases: ${PHASES.join(',')}`);
  if (values.profile !== 'small' && values.profile !== 'large') throw new Error('--profile small|large');
  return {
    runs: Math.max(1, Number(values.runs)), profile: values.profile, only, json: values.json!,
    level: values['compression-level'] !== undefined ? Number(values['compression-level']) : undefined,
    bulk: Number(values.bulk), keep: values.keep!, compare: values.compare,
  };
}

const log = (s: string): void => {
  process.stderr.write(`[bench] ${s}\n`);
};

async function duSize(path: string): Promise<number> {
  const s = await stat(path).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory()) return s.size;
  let n = 0;
  for (const e of await readdir(path, { withFileTypes: true })) n += await duSize(join(path, e.name));
  return n;
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

interface PhaseResult {
  readonly phase: string;
  readonly tool: string;
  readonly command: string;
  readonly runs: readonly Measurement[];
  readonly median: Measurement;
  /** Extra figures (bundle size, bytes verified, ...). */
  readonly extra?: Record<string, number>;
}

/**
 * Loopback byte counts are per network namespace: the bench re-runs itself in a private one
 * (root and util-linux `unshare` needed) so other processes' loopback traffic is not counted.
 * Returns true when it did (the parent then only relays the exit code).
 */
function reexecInPrivateNetns(): boolean {
  if (process.env.AIRLOCK_BENCH_NETNS || process.getuid?.() !== 0 || !existsSync('/usr/bin/unshare') || !existsSync('/usr/sbin/ip')) return false;
  const r = spawnSync('/usr/bin/unshare', ['--net', '--', '/bin/sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, AIRLOCK_BENCH_NETNS: '1' },
  });
  process.exitCode = r.status ?? 1;
  return true;
}

async function main(): Promise<void> {
  const args = parse();
  if (reexecInPrivateNetns()) return;
  if (!process.env.AIRLOCK_BENCH_NETNS) log('not in a private network namespace: loopback bytes include other processes\' traffic');
  const work = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
  const registries: TestRegistry[] = [];
  const results: PhaseResult[] = [];
  const started = Date.now();
  log(`work dir ${work}; df: ${execFileSync('df', ['-h', work], { encoding: 'utf8' }).split('\n')[1]}`);
  try {
    log(`seeding the ${args.profile} profile into an upstream registry (fixtures generated once, cached)`);
    const upstream = await startRegistry();
    registries.push(upstream);
    const seeded = await seedRegistry(upstream, args.profile);
    const blobBytes = seeded.fixtures.description.totalBytes;
    const up = upstream.host;
    if (args.only.has('memory')) {
      // Its largest moment: the second seed in the upstream (1×), the single bundle (1×), the
      // doubled bundle (2×) and its export cache or its import registry (2×).
      const { bavail, bsize } = await statfs(work);
      if (bavail * bsize < 6 * blobBytes) {
        throw new Error(`the memory phase needs about ${formatBytes(6 * blobBytes)} free under ${work}; ${formatBytes(bavail * bsize)} free`);
      }
    }

    // The same images for both tools: every tagged image, index and chart.
    const isTagged = (i: SeededImage): boolean => Boolean(i.tag) && (i.kind === 'image' || i.kind === 'index' || i.kind === 'chart');
    const tagged = seeded.images.filter(isTagged);
    type Tagged = (typeof tagged)[number];
    const mirrorYaml = (skip: (i: Tagged) => boolean, items: readonly Tagged[] = tagged): string => [
      'version: 1', 'registries:', `  ${up}: { tls: plain-http }`, 'images:',
      ...items.filter((i) => i.kind !== 'chart' && !skip(i)).map((i) => `  - ${up}/${i.repository}:${i.tag}`),
      'charts:',
      ...items.filter((i) => i.kind === 'chart' && !skip(i)).map((i) => `  - ref: oci://${up}/${i.repository}\n    version: ${i.tag}`),
      '',
    ].join('\n');
    const skopeoYaml = (): string => {
      const byRepo = new Map<string, string[]>();
      for (const i of tagged) byRepo.set(i.repository, [...(byRepo.get(i.repository) ?? []), i.tag!]);
      return [`${up}:`, '  tls-verify: false', '  images:', ...[...byRepo].map(([r, t]) => `    ${r}: [${t.map((x) => `"${x}"`).join(', ')}]`), ''].join('\n');
    };
    const isApp = (tag: string) => (i: Tagged): boolean => i.repository === 'demo/app' && i.tag === tag;
    await writeFile(join(work, 'all.yaml'), mirrorYaml(() => false));
    await writeFile(join(work, 'v1.yaml'), mirrorYaml(isApp('2.0')));
    await writeFile(join(work, 'v2.yaml'), mirrorYaml(isApp('1.0')));
    await writeFile(join(work, 'skopeo.yaml'), skopeoYaml());
    execFileSync(process.execPath, [CLI, 'keys', 'generate', '--out', join(work, 'dmz')], { stdio: 'ignore' });

    const node = process.execPath;
    const bundle = join(work, 'bundle.tar.zst');
    const skopeoDir = join(work, 'skopeo-dir');
    const levelFlag = args.level !== undefined ? ['--compression-level', String(args.level)] : [];
    const exportArgs = (list: string, out: string, cache: string, extra: string[] = []): string[] => [
      CLI, 'bundle', 'export', '-f', join(work, list), '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', cache, '--quiet', ...levelFlag, ...extra,
    ];
    // --all: every platform of the multi-arch index, as airlock carries (without it skopeo copies
    // only this machine's platform, less content than airlock moves).
    const skopeoExportArgs = ['--insecure-policy', 'sync', '--all', '--src', 'yaml', '--dest', 'dir', join(work, 'skopeo.yaml'), skopeoDir];
    const regDirs = (): string[] => registries.map((r) => r.dir);

    async function airlockExport(out: string, list = 'all.yaml', extra: string[] = [], cli = CLI): Promise<MeasuredRun> {
      const cache = join(work, 'cache');
      await rm(cache, { recursive: true, force: true });
      await rm(out, { force: true });
      const argv = exportArgs(list, out, cache, extra).slice(1);
      // `--no-cache` in extra: drop `--cache DIR` (one or the other).
      const noCache = extra.includes('--no-cache') ? argv.filter((a, i) => a !== '--cache' && argv[i - 1] !== '--cache') : argv;
      const m = await measure(node, [cli, ...noCache], { label: 'airlock export', cwd: work, registryDirs: regDirs() });
      await rm(cache, { recursive: true, force: true });
      return m;
    }
    /** `airlock bundle import` of `from` into `reg` (fresh --state-dir and --out-dir). */
    async function airlockImport(from: string, reg: TestRegistry, label: string, cli = CLI): Promise<MeasuredRun> {
      const state = join(work, 'state');
      const outDir = join(work, 'import-out');
      await rm(state, { recursive: true, force: true });
      await rm(outDir, { recursive: true, force: true });
      return measure(node, [
        cli, 'bundle', 'import', from, '--to', reg.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
        '--state-dir', state, '--out-dir', outDir, '--quiet',
      ], { label, cwd: work, registryDirs: regDirs() });
    }
    async function skopeoExport(): Promise<MeasuredRun> {
      await rm(skopeoDir, { recursive: true, force: true });
      return measure(SKOPEO_BIN, skopeoExportArgs, { label: 'skopeo export', cwd: work, registryDirs: regDirs() });
    }
    const record = (phase: string, tool: string, command: string, runs: MeasuredRun[], extra?: Record<string, number>): void => {
      const stripped = runs.map(({ stdout: _s, ...m }) => m);
      results.push({ phase, tool, command, runs: stripped, median: medianOf(stripped), ...(extra ? { extra } : {}) });
    };

    // The tools of a phase, in alternating order run by run; `--compare CLI` adds an older build.
    const airlocks: [string, string][] = [['airlock', CLI], ...(args.compare ? [['airlock-before', args.compare] as [string, string]] : [])];
    // Each airlock build imports the bundle it wrote itself (the format's defaults may differ).
    const bundleOf = (tool: string): string => (tool === 'airlock' ? bundle : join(work, `bundle-${tool}.tar.zst`));
    const orderFor = <T>(i: number, tools: readonly T[]): T[] => (i % 2 === 0 ? [...tools] : [...tools].reverse());

    // 1. export
    if (args.only.has('export')) {
      const runs = new Map<string, MeasuredRun[]>();
      const push = (k: string, m: MeasuredRun): void => {
        runs.set(k, [...(runs.get(k) ?? []), m]);
      };
      for (let i = 0; i < args.runs; i++) {
        log(`export run ${i + 1}/${args.runs}`);
        for (const [tool, cli] of orderFor(i, [...airlocks, ['airlock --no-cache', CLI] as [string, string], ['skopeo', ''] as [string, string]])) {
          if (tool === 'skopeo') push(tool, await skopeoExport());
          else if (tool === 'airlock --no-cache') push(tool, await airlockExport(join(work, 'bundle-no-cache.tar.zst'), 'all.yaml', ['--no-cache']));
          else push(tool, await airlockExport(bundleOf(tool), 'all.yaml', [], cli));
        }
      }
      record('export', 'airlock --no-cache', 'airlock bundle export -f all.yaml -o bundle.tar.zst --sign-key dmz.key --no-cache', runs.get('airlock --no-cache')!, { outputBytes: statSync(join(work, 'bundle-no-cache.tar.zst')).size });
      await rm(join(work, 'bundle-no-cache.tar.zst'), { force: true });
      for (const [tool] of airlocks) {
        record('export', tool, `airlock bundle export -f all.yaml -o bundle.tar.zst --sign-key dmz.key --cache EMPTY${levelFlag.length ? ` ${levelFlag.join(' ')}` : ''}`, runs.get(tool)!, { outputBytes: statSync(bundle).size });
      }
      record('export', 'skopeo', 'skopeo sync --all --src yaml --dest dir skopeo.yaml DIR', runs.get('skopeo')!, { outputBytes: await duSize(skopeoDir) });
    }
    // Inputs for the later phases when export was not timed.
    if (!existsSync(bundle) && (args.only.has('import') || args.only.has('noop') || args.only.has('verify') || args.only.has('delta') || args.only.has('executable') || args.only.has('floor'))) {
      log('preparing the bundle (untimed)');
      await airlockExport(bundle);
    }
    if (!existsSync(skopeoDir) && (args.only.has('import') || args.only.has('noop'))) {
      log('preparing skopeo\'s export (untimed)');
      await skopeoExport();
    }
    const bundleBytes = existsSync(bundle) ? statSync(bundle).size : 0;

    // 2 + 3. import into an empty registry (one per tool), then a no-op re-import into the now-full one.
    if (args.only.has('import') || args.only.has('noop')) {
      const imports = new Map<string, MeasuredRun[]>();
      const noops = new Map<string, MeasuredRun[]>();
      const push = (m: Map<string, MeasuredRun[]>, k: string, r: MeasuredRun): void => {
        m.set(k, [...(m.get(k) ?? []), r]);
      };
      const tools: [string, string][] = [...airlocks, ['skopeo', '']];
      for (let i = 0; i < args.runs; i++) {
        log(`import run ${i + 1}/${args.runs}`);
        const regs = new Map<string, TestRegistry>();
        for (const [tool] of tools) {
          const r = await startRegistry();
          regs.set(tool, r);
          registries.push(r);
        }
        try {
          const importOne = async (tool: string, cli: string): Promise<MeasuredRun> => {
            const reg = regs.get(tool)!;
            if (tool === 'skopeo') {
              return measure(SKOPEO_BIN, ['--insecure-policy', 'sync', '--all', '--src', 'dir', '--dest', 'docker', '--dest-tls-verify=false', skopeoDir, reg.host],
                { label: 'skopeo import', cwd: work, registryDirs: regDirs() });
            }
            return airlockImport(existsSync(bundleOf(tool)) ? bundleOf(tool) : bundle, reg, `${tool} import`, cli);
          };
          for (const [tool, cli] of orderFor(i, tools)) push(imports, tool, await importOne(tool, cli));
          if (args.only.has('noop')) for (const [tool, cli] of orderFor(i, tools)) push(noops, tool, await importOne(tool, cli));
        } finally {
          for (const r of regs.values()) {
            await r.stop();
            registries.splice(registries.indexOf(r), 1);
          }
        }
      }
      for (const [tool] of airlocks) record('import', tool, 'airlock bundle import bundle.tar.zst --to EMPTY --dest-tls-verify=false --verify-key dmz.pub', imports.get(tool)!, { bundleBytes });
      record('import', 'skopeo', 'skopeo sync --all --src dir --dest docker DIR EMPTY', imports.get('skopeo')!);
      if (args.only.has('noop')) {
        for (const [tool] of airlocks) record('noop', tool, 'the same import again, into the full registry (fresh --state-dir)', noops.get(tool)!);
        record('noop', 'skopeo', 'the same sync again, into the full registry', noops.get('skopeo')!);
      }
    }

    // 3b. the single executable against the node CLI, with the same flags: startup (`version`: the
    // runtime, the CLI's code and its argument parsing, no work) and a no-op re-import of the
    // bundle into a registry that holds it all (one untimed import first), each tool in turn.
    if (args.only.has('executable')) {
      log('building the single executable (untimed): npm run release into the work dir');
      const release = join(work, 'release');
      execFileSync(node, [join(ROOT, 'dist', 'scripts', 'release.js'), '--out', release], { stdio: ['ignore', 'ignore', 'inherit'] });
      const exe = join(release, executableName(TOOL_VERSION, `${process.platform}-${process.arch}`));
      const reg = await startRegistry();
      registries.push(reg);
      try {
        const importArgs = (state: string): string[] => [
          'bundle', 'import', bundle, '--to', reg.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
          '--state-dir', state, '--out-dir', join(work, 'import-out'), '--quiet',
        ];
        execFileSync(exe, importArgs(join(work, 'state-first')), { stdio: 'ignore' });
        const tools: [string, (a: string[]) => [string, string[]]][] = [
          ['airlock (node CLI)', (a) => [node, [CLI, ...a]]],
          ['airlock executable', (a) => [exe, a]],
        ];
        const startup = new Map<string, MeasuredRun[]>();
        const noop = new Map<string, MeasuredRun[]>();
        const push = (m: Map<string, MeasuredRun[]>, k: string, r: MeasuredRun): void => {
          m.set(k, [...(m.get(k) ?? []), r]);
        };
        // Startup is short: 5 samples per run, so its median holds against the machine's noise.
        for (let i = 0; i < args.runs * 5; i++) {
          for (const [tool, argv] of orderFor(i, tools)) {
            const [cmd, a] = argv(['version']);
            push(startup, tool, await measure(cmd, a, { label: `${tool} version`, cwd: work }));
          }
        }
        for (let i = 0; i < args.runs; i++) {
          log(`executable run ${i + 1}/${args.runs}`);
          for (const [tool, argv] of orderFor(i, tools)) {
            const state = join(work, 'state-noop');
            await rm(state, { recursive: true, force: true });
            const [cmd, a] = argv(importArgs(state));
            push(noop, tool, await measure(cmd, a, { label: `${tool} no-op import`, cwd: work, registryDirs: regDirs() }));
          }
        }
        const exeBytes = statSync(exe).size;
        for (const [tool] of tools) {
          record('startup', tool, tool.includes('executable') ? 'airlock-VERSION-linux-x64 version' : 'node bin/airlock.js version', startup.get(tool)!,
            tool.includes('executable') ? { executableBytes: exeBytes } : undefined);
          record('noop-executable', tool, 'the import again, into the full registry (fresh --state-dir)', noop.get(tool)!);
        }
      } finally {
        await reg.stop();
        registries.splice(registries.indexOf(reg), 1);
      }
    }

    // 3c. the floors, for reading the import's client CPU and the no-op's time: node's start-up
    // (`node -e 0`, 5 samples per run), a bare node loop over the bundle's bytes (read → SHA-256 →
    // loopback send to this process, which discards them: scripts/bench/floor.ts) and the cost of
    // a page's first touch on this machine.
    if (args.only.has('floor')) {
      const floorScript = join(ROOT, 'dist', 'scripts', 'bench', 'floor.js');
      const sink = createServer((s) => {
        s.resume();
        s.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
      const port = (sink.address() as AddressInfo).port;
      try {
        const startup: MeasuredRun[] = [];
        const loop: MeasuredRun[] = [];
        const touch: MeasuredRun[] = [];
        for (let i = 0; i < args.runs; i++) {
          log(`floor run ${i + 1}/${args.runs}`);
          for (let j = 0; j < 5; j++) startup.push(await measure(node, ['-e', '0'], { label: 'node -e 0', cwd: work }));
          loop.push(await measure(node, [floorScript, 'send', bundle, String(port)], { label: 'floor loop', cwd: work }));
          touch.push(await measure(node, [floorScript, 'touch', '256'], { label: 'page touch', cwd: work }));
        }
        record('floor', 'node -e 0', 'node -e 0 (the runtime\'s start-up)', startup);
        record('floor', 'node read → SHA-256 → send', 'node dist/scripts/bench/floor.js send bundle.tar.zst PORT', loop, { bytes: bundleBytes });
        const us = touch.map((r) => Number(r.stdout.trim())).sort((x, y) => x - y);
        record('floor', 'page first touch', 'node dist/scripts/bench/floor.js touch 256', touch, { pageFirstTouchUs: us[Math.floor(us.length / 2)]! });
      } finally {
        sink.close();
      }
    }

    // 4. verify: the bundle against hashing the same blob bytes with sha256sum and openssl.
    if (args.only.has('verify')) {
      const blobDir = join(seeded.fixtures.layoutDir, 'blobs', 'sha256');
      const files = (await readdir(blobDir)).map((f) => join(blobDir, f));
      const a: MeasuredRun[] = [];
      const s: MeasuredRun[] = [];
      const o: MeasuredRun[] = [];
      execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 }); // warm the page cache like the bundle's
      for (let i = 0; i < args.runs; i++) {
        log(`verify run ${i + 1}/${args.runs}`);
        const jobs: [string, () => Promise<void>][] = [
          ['airlock', async () => {
            a.push(await measure(node, [CLI, 'bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--quiet'], { label: 'airlock verify', cwd: work }));
          }],
          ['sha256sum', async () => {
            s.push(await measure('sha256sum', files, { label: 'sha256sum', cwd: work }));
          }],
          ['openssl', async () => {
            o.push(await measure('openssl', ['dgst', '-sha256', ...files], { label: 'openssl', cwd: work }));
          }],
        ];
        for (const [, job] of i % 2 === 0 ? jobs : [...jobs].reverse()) await job();
      }
      record('verify', 'airlock', 'airlock bundle verify bundle.tar.zst --verify-key dmz.pub', a, { bytes: bundleBytes });
      record('verify', 'sha256sum', 'sha256sum blobs/sha256/*', s, { bytes: blobBytes });
      record('verify', 'openssl', 'openssl dgst -sha256 blobs/sha256/*', o, { bytes: blobBytes });
    }

    // 5. delta: v2 against v1 vs a full v2 export.
    if (args.only.has('delta')) {
      const v1 = join(work, 'v1.tar.zst');
      log('preparing the v1 bundle (untimed)');
      await airlockExport(v1, 'v1.yaml');
      const full: MeasuredRun[] = [];
      const delta: MeasuredRun[] = [];
      const v2full = join(work, 'v2-full.tar.zst');
      const v2delta = join(work, 'v2-delta.tar.zst');
      for (let i = 0; i < args.runs; i++) {
        log(`delta run ${i + 1}/${args.runs}`);
        const order = i % 2 === 0 ? ['full', 'delta'] : ['delta', 'full'];
        for (const kind of order) {
          if (kind === 'full') full.push(await airlockExport(v2full, 'v2.yaml'));
          else delta.push(await airlockExport(v2delta, 'v2.yaml', ['--since', v1]));
        }
      }
      record('delta', 'airlock full v2', 'airlock bundle export -f v2.yaml', full, { outputBytes: statSync(v2full).size });
      record('delta', 'airlock v2 --since v1', 'airlock bundle export -f v2.yaml --since v1.tar.zst', delta, { outputBytes: statSync(v2delta).size });
      await rm(v1, { force: true });
      await rm(v2full, { force: true });
      await rm(v2delta, { force: true });
    }

    // 6. planning a mirror list of many small images (--dry-run: resolve, walk, plan; no layer moves).
    if (args.only.has('plan')) {
      log(`pushing ${args.bulk} small images (untimed)`);
      const list = await seedBulk(upstream, args.bulk, work);
      const p: MeasuredRun[] = [];
      for (let i = 0; i < args.runs; i++) {
        log(`plan run ${i + 1}/${args.runs}`);
        p.push(await measure(node, [CLI, 'bundle', 'export', '-f', list, '--dry-run', '--quiet', '--json'], { label: 'airlock plan', cwd: work, registryDirs: regDirs() }));
      }
      record('plan', 'airlock', `airlock bundle export -f bulk.yaml --dry-run (${args.bulk} images)`, p, { images: args.bulk });
    }

    // 7. memory: peak RSS of export and import of the profile doubled against the profile itself.
    // Doubled = the profile plus a second seed of it under double/ (a seed shares no blob with
    // another but the chart's): twice the unique bytes, the same shapes. The single figures are
    // the export and import phases' when those ran.
    if (args.only.has('memory')) {
      await rm(skopeoDir, { recursive: true, force: true }); // not needed any more; disk
      const seed = DEFAULT_SEED + 1;
      log(`seeding the ${args.profile} profile again with seed ${seed} under double/ (fixtures generated once, cached)`);
      const second = await seedRegistry(upstream, args.profile, { seed, prefix: 'double/' });
      await writeFile(join(work, 'double.yaml'), mirrorYaml(() => false, [...tagged, ...second.images.filter(isTagged)]));
      const doubled = join(work, 'double.tar.zst');
      const runs = new Map<string, MeasuredRun[]>();
      const push = (k: string, m: MeasuredRun): void => {
        runs.set(k, [...(runs.get(k) ?? []), m]);
      };
      for (let i = 0; i < args.runs; i++) {
        log(`memory run ${i + 1}/${args.runs}`);
        for (const size of orderFor(i, ['single', 'doubled'] as const)) {
          const out = size === 'single' ? bundle : doubled;
          if (size === 'doubled' || !args.only.has('export')) {
            push(`export ${size}`, await airlockExport(out, size === 'single' ? 'all.yaml' : 'double.yaml'));
          }
          if (size === 'doubled' || !args.only.has('import')) {
            const reg = await startRegistry();
            registries.push(reg);
            try {
              push(`import ${size}`, await airlockImport(out, reg, `airlock import ${size}`));
            } finally {
              await reg.stop();
              registries.splice(registries.indexOf(reg), 1);
            }
          }
        }
      }
      const list = (size: string): string => (size === 'single' ? 'all.yaml' : 'double.yaml');
      const file = (size: string): string => (size === 'single' ? 'bundle.tar.zst' : 'double.tar.zst');
      for (const size of ['single', 'doubled']) {
        const e = runs.get(`export ${size}`);
        if (e) record('memory', `airlock export ${size}`, `airlock bundle export -f ${list(size)} -o ${file(size)} --sign-key dmz.key --cache EMPTY${levelFlag.length ? ` ${levelFlag.join(' ')}` : ''}`, e, { outputBytes: statSync(join(work, file(size))).size });
        const im = runs.get(`import ${size}`);
        if (im) record('memory', `airlock import ${size}`, `airlock bundle import ${file(size)} --to EMPTY --dest-tls-verify=false --verify-key dmz.pub`, im, { bundleBytes: statSync(join(work, file(size))).size });
      }
      await rm(doubled, { force: true });
    }

    const rows = buildRows(results, bundleBytes);
    process.stdout.write(`${formatTable(rows)}\n`);
    const machine = {
      cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: versionOf('uname', ['-r']), node: process.version, skopeo: versionOf(SKOPEO_BIN, ['--version']),
      registry: versionOf('/usr/bin/docker-registry', ['--version']), openssl: versionOf('openssl', ['version']),
      airlock: versionOf(node, [CLI, '--version']), git: versionOf('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    };
    const report = {
      date: new Date().toISOString(), profile: args.profile, runs: args.runs, machine, blobBytes, bundleBytes,
      durationS: (Date.now() - started) / 1000, ratios: Object.fromEntries(rows.filter((r) => r.ratio !== undefined).map((r) => [r.key, r.ratio])), results,
    };
    await mkdir(join(args.json, '..'), { recursive: true });
    await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`JSON: ${args.json}`);
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    if (!args.keep) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

/** Table rows with the ratios the targets are stated in. */
function buildRows(results: readonly PhaseResult[], bundleBytes: number): Row[] {
  const get = (phase: string, tool: string): PhaseResult | undefined => results.find((r) => r.phase === phase && r.tool === tool);
  const rows: Row[] = results.map((r) => ({ key: `${r.phase}:${r.tool}`, phase: r.phase, tool: r.tool, m: r.median, ...(r.extra ? { extra: r.extra } : {}) }));
  const ratio = (key: string, label: string, value: number | undefined, target: string): void => {
    if (value === undefined || !Number.isFinite(value)) return;
    rows.push({ key, phase: 'ratio', tool: label, ratio: value, target });
  };
  const ae = get('export', 'airlock');
  const se = get('export', 'skopeo');
  const ai = get('import', 'airlock');
  const si = get('import', 'skopeo');
  const an = get('noop', 'airlock');
  const av = get('verify', 'airlock');
  const ov = get('verify', 'openssl');
  const sv = get('verify', 'sha256sum');
  const df = get('delta', 'airlock full v2');
  const dd = get('delta', 'airlock v2 --since v1');
  const pl = get('plan', 'airlock');
  // The single-profile figures: the memory phase's own, or the export and import phases'.
  const eSingle = get('memory', 'airlock export single') ?? ae;
  const eDouble = get('memory', 'airlock export doubled');
  const iSingle = get('memory', 'airlock import single') ?? ai;
  const iDouble = get('memory', 'airlock import doubled');
  if (ae && se) ratio('export.time', 'export time airlock/skopeo', ae.median.wallS / se.median.wallS, '≤ 0.33');
  const anc = get('export', 'airlock --no-cache');
  if (anc && se) ratio('export.time-no-cache', 'export time airlock --no-cache/skopeo', anc.median.wallS / se.median.wallS, '≤ 0.33');
  if (ai && si) {
    ratio('import.time', 'import time airlock/skopeo', ai.median.wallS / si.median.wallS, '≤ 0.6');
    ratio('import.cpu', 'import client CPU airlock/skopeo', ai.median.cpuS / si.median.cpuS, '≤ 0.3');
  }
  if (ai && bundleBytes) ratio('import.disk', 'import disk writes / bundle bytes', ai.median.diskWriteBytes / bundleBytes, '< 0.01');
  if (an && ai) ratio('noop.time', 'no-op re-import / full import (airlock)', an.median.wallS / ai.median.wallS, '≤ 0.03');
  // The floors: what a node process costs before airlock's own work (no target: a target ratio
  // below its floor cannot be met by any node importer on this machine).
  const fs0 = get('floor', 'node -e 0');
  const fl = get('floor', 'node read → SHA-256 → send');
  const ft = get('floor', 'page first touch');
  if (fl && si) ratio('floor.import-cpu', 'floor: bare node loop CPU/skopeo import client CPU', fl.median.cpuS / si.median.cpuS, '(import.cpu ≤ 0.3)');
  if (fl && ai) ratio('floor.import-cpu-above', 'airlock import client CPU above the bare loop (s)', ai.median.cpuS - fl.median.cpuS, '');
  if (fs0 && ai) ratio('floor.noop', 'floor: node -e 0 / full import (airlock)', fs0.median.wallS / ai.median.wallS, '(noop.time ≤ 0.03)');
  if (ft?.extra?.pageFirstTouchUs !== undefined) ratio('floor.page-touch-us', 'first touch of a page (µs)', ft.extra.pageFirstTouchUs, '');
  const tput = (r: PhaseResult | undefined): number | undefined => (r?.extra?.bytes ? r.extra.bytes / r.median.wallS : undefined);
  if (av && ov) ratio('verify.throughput', 'verify throughput airlock/openssl', tput(av)! / tput(ov)!, '≥ 0.9');
  if (av && sv) ratio('verify.vs-sha256sum', 'verify throughput airlock/sha256sum', tput(av)! / tput(sv)!, '');
  if (eSingle) ratio('export.rss', 'export peak RSS (MiB)', eSingle.median.maxRssMiB, '≤ 256');
  if (iSingle) ratio('import.rss', 'import peak RSS (MiB)', iSingle.median.maxRssMiB, '≤ 256');
  if (eSingle && eDouble) ratio('export.rss-doubled', 'export peak RSS doubled/single', eDouble.median.maxRssMiB / eSingle.median.maxRssMiB, '≤ 1.10');
  if (iSingle && iDouble) ratio('import.rss-doubled', 'import peak RSS doubled/single', iDouble.median.maxRssMiB / iSingle.median.maxRssMiB, '≤ 1.10');
  if (df && dd) {
    ratio('delta.time', 'delta export time / full v2 export', dd.median.wallS / df.median.wallS, '');
    ratio('delta.size', 'delta bundle size / full v2 bundle', dd.extra!.outputBytes! / df.extra!.outputBytes!, '');
  }
  if (pl) ratio('plan.time', `planning ${pl.extra?.images} images (s)`, pl.median.wallS, '< 30');
  const sn = get('startup', 'airlock (node CLI)');
  const se2 = get('startup', 'airlock executable');
  const nn = get('noop-executable', 'airlock (node CLI)');
  const ne = get('noop-executable', 'airlock executable');
  if (sn && se2) {
    ratio('executable.startup', 'startup time executable/node CLI', se2.median.wallS / sn.median.wallS, '');
    ratio('executable.startup-cpu', 'startup CPU executable/node CLI', se2.median.cpuS / sn.median.cpuS, '');
  }
  if (nn && ne) ratio('executable.noop', 'no-op re-import time executable/node CLI', ne.median.wallS / nn.median.wallS, '');
  return rows;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
