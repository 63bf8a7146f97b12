/**
 * `npm run bench:scale [-- --runs N --profile small|large --only import,plan --images 10000 --volumes 4 --json FILE]`
 *
 * Issue 24, "scale past one machine", measured:
 * - import: one split bundle (`--volumes` volumes) imported by N = 1, 2, 4 processes at once (the
 *   volumes dealt out round-robin, each process with its own --state-dir and --out-dir), into two
 *   Distribution instances over one filesystem storage (harness startRegistryCluster), the
 *   processes spread over both. Wall time from the first start to the last exit, CPU of all the
 *   importers together, the registries' CPU. Each run into a fresh, empty cluster; the end state is
 *   checked (every tag at the bundle's digest) before the run counts.
 * - plan: `bundle export --dry-run` of a mirror list of `--images` digest-pinned images
 *   (fixtures/harness/many-images.ts), wall, CPU, peak RSS.
 * Prints a table; writes JSON (default `.cache/bench/scale-latest.json`). Figures: docs/BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRegistry, startRegistryCluster } from '../fixtures/harness/registry.js';
import { seedRegistry, type SeededImage } from '../fixtures/harness/fixtures.js';
import { seedManyImages } from '../fixtures/harness/many-images.js';
import { endpointOf } from '../fixtures/harness/oci-http.js';
import { getManifest } from '../fixtures/harness/validate.js';
import { measure, medianOf, type MeasuredRun } from './bench/measure.js';
import { formatTable, type Row } from './bench/report.js';
import { formatBytes } from '../src/util/index.js';
import { helpRequested } from './usage.js';

helpRequested(`usage: npm run bench:scale [-- --runs N --profile small|large --only import,plan --images 10000 --volumes 4 --json FILE]
N importers of one split bundle into a two-instance registry cluster, and a large --dry-run plan; see docs/BENCHMARKS.md.`);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'airlock.js');
const log = (s: string): void => {
  process.stderr.write(`[bench:scale] ${s}\n`);
};

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    profile: { type: 'string', default: 'large' },
    only: { type: 'string', default: 'import,plan' },
    images: { type: 'string', default: '10000' },
    volumes: { type: 'string', default: '4' },
    json: { type: 'string', default: join(ROOT, '.cache', 'bench', 'scale-latest.json') },
  },
  strict: true,
});
const runs = Math.max(1, Number(values.runs));
const profile = values.profile === 'small' ? 'small' : 'large';
const only = new Set(values.only!.split(',').map((s) => s.trim()));
const images = Number(values.images);
const wantVolumes = Number(values.volumes);

interface Result { phase: string; tool: string; runs: MeasuredRun[]; extra?: Record<string, number> }

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-bench-scale-'));
  const results: Result[] = [];
  const node = process.execPath;
  const machine = { cpus: cpus().length, loadavgAtStart: loadavg().map((l) => Number(l.toFixed(2))) };
  log(`work dir ${work}; ${machine.cpus} CPUs, load average ${machine.loadavgAtStart.join(' ')}`);
  const stops: (() => Promise<void>)[] = [];
  try {
    if (only.has('import')) {
      log(`seeding the ${profile} profile into an upstream registry`);
      const upstream = await startRegistry();
      stops.push(() => upstream.stop());
      const seeded = await seedRegistry(upstream, profile);
      const tagged = seeded.images.filter((i: SeededImage) => Boolean(i.tag) && (i.kind === 'image' || i.kind === 'index'));
      const list = join(work, 'all.yaml');
      await writeFile(list, ['version: 1', 'registries:', `  ${upstream.host}: { tls: plain-http }`, 'images:', ...tagged.map((i) => `  - ${upstream.host}/${i.repository}:${i.tag}`), ''].join('\n'));
      execFileSync(node, [CLI, 'keys', 'generate', '--out', join(work, 'dmz')], { stdio: 'ignore' });
      const cache = join(work, 'cache');
      const exportTo = (out: string, extra: string[]): void => {
        execFileSync(node, [CLI, 'bundle', 'export', '-f', list, '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', cache, '--quiet', ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
      };
      log('export (untimed): the whole bundle once, for its size');
      exportTo(join(work, 'whole.tar.zst'), []);
      const whole = statSync(join(work, 'whole.tar.zst')).size;
      await rm(join(work, 'whole.tar.zst'));
      // A split size that makes exactly --volumes volumes (every volume repeats the metadata).
      let size = Math.ceil((whole / wantVolumes) * 1.08);
      let volumes: string[] = [];
      for (let attempt = 0; attempt < 8; attempt++) {
        const dir = join(work, 'split');
        await rm(dir, { recursive: true, force: true });
        exportTo(join(dir, 'site.tar.zst'), ['--split-size', String(size)]);
        volumes = (await readdir(dir)).filter((f) => /\.vol\d{3}\.tar\.zst$/.test(f)).sort().map((f) => join(dir, f));
        log(`--split-size ${formatBytes(size)}: ${volumes.length} volumes`);
        if (volumes.length === wantVolumes) break;
        size = Math.ceil(size * (volumes.length > wantVolumes ? 1.05 : 0.95));
      }
      if (volumes.length !== wantVolumes) throw new Error(`could not make ${wantVolumes} volumes`);
      const bundleBytes = volumes.reduce((s, v) => s + statSync(v).size, 0);
      const expected = tagged.map((i) => ({ repository: i.repository, tag: i.tag!, digest: i.digest }));

      for (const n of [1, 2, 4]) {
        const measured: MeasuredRun[] = [];
        for (let r = 0; r < runs; r++) {
          log(`import N=${n}, run ${r + 1}/${runs}`);
          const cluster = await startRegistryCluster(2);
          try {
            const runDir = join(work, `n${n}-${r}`);
            await mkdir(runDir, { recursive: true });
            const commands = Array.from({ length: n }, (_, k) => {
              const mine = volumes.filter((_, v) => v % n === k);
              const target = cluster.instances[k % cluster.instances.length]!;
              return [node, CLI, 'bundle', 'import', ...mine, '--to', target.host, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
                '--state-dir', join(runDir, `state-${k}`), '--out-dir', join(runDir, `out-${k}`), '--quiet'].map(shellQuote).join(' ');
            });
            // All at once under one shell, so GNU time counts every importer's CPU; any failure fails the run.
            const script = [...commands.map((c, k) => `${c} & p${k}=$!`), ...commands.map((_, k) => `wait $p${k} || exit 1`)].join('\n');
            measured.push(await measure('/bin/sh', ['-c', script], { label: `import N=${n}`, cwd: runDir, registryDirs: cluster.instances.map((i) => i.dir) }));
            // The end state, before the run counts: every tag at the bundle's digest, through the other instance.
            const ep = endpointOf(cluster.instances[1]!);
            for (const e of expected) {
              const m = await getManifest(ep, e.repository, e.tag);
              if (m?.digest !== e.digest) throw new Error(`N=${n}: ${e.repository}:${e.tag} is ${m?.digest ?? 'missing'}, expected ${e.digest}`);
            }
            await rm(runDir, { recursive: true, force: true });
          } finally {
            await cluster.stop();
          }
        }
        results.push({ phase: 'scale-import', tool: `N=${n}`, runs: measured, extra: { bundleBytes, volumes: volumes.length, bytes: bundleBytes } });
      }
      await upstream.stop();
      stops.pop();
    }

    if (only.has('plan')) {
      const reg = await startRegistry();
      stops.push(() => reg.stop());
      log(`seeding ${images} digest-pinned images (untimed)`);
      const t = Date.now();
      const many = await seedManyImages(reg, images, work);
      log(`seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      const measured: MeasuredRun[] = [];
      for (let r = 0; r < runs; r++) {
        log(`plan run ${r + 1}/${runs}`);
        const cache = join(work, 'plan-cache');
        await rm(cache, { recursive: true, force: true });
        measured.push(await measure(node, [CLI, 'bundle', 'export', '-f', many.list, '--dry-run', '--quiet', '--json', '--cache', cache], { label: 'plan', cwd: work, registryDirs: [reg.dir] }));
      }
      results.push({ phase: 'plan', tool: `${images} images`, runs: measured, extra: { images, repositories: many.repositories } });
    }
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }

  const rows: Row[] = results.map((r) => ({ key: `${r.phase}:${r.tool}`, phase: r.phase, tool: r.tool, m: medianOf(r.runs), ...(r.extra ? { extra: r.extra } : {}) }));
  const base = results.find((r) => r.phase === 'scale-import' && r.tool === 'N=1');
  const extraRows: Row[] = [];
  if (base) {
    for (const r of results.filter((x) => x.phase === 'scale-import')) {
      const wall = medianOf(r.runs).wallS;
      extraRows.push({ key: `throughput:${r.tool}`, phase: 'ratio', tool: `${r.tool} throughput MB/s (${(base.extra!.bundleBytes! / 1e6 / wall).toFixed(0)}) vs N=1`, ratio: medianOf(base.runs).wallS / wall });
    }
  }
  const plan = results.find((r) => r.phase === 'plan');
  if (plan) {
    extraRows.push({ key: 'plan.wall', phase: 'ratio', tool: `plan ${images} images wall s`, ratio: medianOf(plan.runs).wallS, target: '< 30' });
    extraRows.push({ key: 'plan.rss', phase: 'ratio', tool: `plan ${images} images peak RSS MiB`, ratio: medianOf(plan.runs).maxRssMiB, target: '< 512' });
  }
  process.stdout.write(`${formatTable([...rows, ...extraRows])}\n`);
  const doc = {
    version: 1, date: new Date().toISOString(), machine: { ...machine, loadavgAtEnd: loadavg().map((l) => Number(l.toFixed(2))) }, profile, runs,
    results: results.map((r) => ({ phase: r.phase, tool: r.tool, median: medianOf(r.runs), runs: r.runs.map(({ stdout: _s, ...m }) => m), ...(r.extra ? { extra: r.extra } : {}) })),
  };
  await mkdir(dirname(values.json!), { recursive: true });
  await writeFile(values.json!, `${JSON.stringify(doc, null, 2)}\n`);
  log(`wrote ${values.json}`);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
