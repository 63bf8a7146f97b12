/**
 * Issue 11, kill tests: SIGKILL the built CLI (`node bin/airlock.js`) during export and import at
 * seeded random moments: half by time since start, half after the import journal (or, for export,
 * the progress on stderr) has reached a seeded number of lines. After each kill, an invariant check:
 * export leaves nothing under the output's final name unless it is a whole bundle that verifies;
 * import leaves every tag in the target on a complete, digest-correct graph that equals the clean
 * run's. Then the re-run completes and equals a clean run.
 *
 * 4 kills per side by default; 24 per side with AIRLOCK_SOAK=1. A failing point is replayed from
 * the seed in its test name (AIRLOCK_KILL_SEED=<seed> reruns the same series).
 *
 * Issue 17.1, the state kept: a second series runs every kill against ONE target and ONE state
 * directory (import journal, spool) or ONE download cache and output (export), kept across all
 * runs, and between some runs the target loses content (wiped and restarted, a repository
 * deleted, garbage-collect --delete-untagged) or the export's cache and output are damaged
 * (output removed, a cache file's bytes changed, the output changed in place under the cache's
 * references). After each kill the re-run finishes and equals the clean run. 5 per side by
 * default, 20 per side with AIRLOCK_SOAK=1 (`npm run test:soak`).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBundleFront } from '../../src/bundle/index.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  SOAK, checkRegistry, cleanBaseline, describeRun, exportTo, importArgs, listRepositories, makeWorld, prng, recordOutcome, runCli, wipeRegistry, type World,
} from '../../fixtures/harness/reliability.js';

const KILLS_PER_SIDE = SOAK ? 24 : 4;
const KEPT_KILLS_PER_SIDE = SOAK ? 20 : 5;
const SEED = Number(process.env.AIRLOCK_KILL_SEED ?? 20_251_111);

/** Lines in every *.jsonl under `dir` (the import journal). */
function journalLines(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      // The import being watched renames its temporary files meanwhile: one gone between the
      // listing and the stat is simply not counted.
      try {
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.jsonl')) n += readFileSync(p, 'utf8').split('\n').filter(Boolean).length;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  };
  walk(dir);
  return n;
}

interface KillPlan {
  readonly by: 'time' | 'lines';
  /** ms after spawn, or a number of lines seen. */
  readonly at: number;
}

/**
 * Run the CLI and SIGKILL it when the plan says; `lines(stderrLines)` gives the count a 'lines'
 * plan waits for. Resolves with whether the kill landed before the run ended by itself.
 */
async function runAndKill(args: readonly string[], world: World, plan: KillPlan, lines: (stderrLines: number) => number): Promise<{ killed: boolean; code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  let stderrLines = 0;
  const started = Date.now();
  const p = runCli(args, {
    env: world.ws.env,
    onStderr: (c) => {
      for (const b of c) if (b === 0x0a) stderrLines++;
    },
    onSpawn: (c: ChildProcess) => {
      timer = setInterval(() => {
        const due = plan.by === 'time' ? Date.now() - started >= plan.at : lines(stderrLines) >= plan.at;
        if (due && c.exitCode === null) {
          c.kill('SIGKILL');
          clearInterval(timer);
        }
      }, plan.by === 'time' ? 2 : 3);
    },
  });
  const r = await p;
  clearInterval(timer);
  return { killed: r.signal === 'SIGKILL', code: r.code };
}

async function artifactsOf(bundle: string): Promise<string> {
  const front = await readBundleFront(bundle);
  return front.manifest.artifacts.map((a) => `${a.source} ${a.digest}`).sort().join('\n');
}

describe('reliability: SIGKILL during export and import, then re-run', { concurrency: 1 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let cleanArtifacts: string;
  let cleanTags: Readonly<Record<string, string>>;
  let cleanExportMs = 0;
  let cleanImportMs = 0;
  let cleanJournalLines = 0;
  let cleanExportLines = 0;
  let zst: string;
  let tar: string;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'kill');
    zst = join(world.ws.dir, 'clean.tar.zst');
    tar = join(world.ws.dir, 'clean.tar');
    const s = Date.now();
    await exportTo(world, zst);
    cleanExportMs = Date.now() - s;
    await exportTo(world, tar);
    cleanArtifacts = await artifactsOf(zst);
    const probe = await runCli(['bundle', 'export', '-f', world.mirror, '-o', join(world.ws.dir, 'probe.tar'), '--cache', join(world.ws.dir, 'cache-probe')], { env: world.ws.env });
    cleanExportLines = probe.stderr.split('\n').filter(Boolean).length;
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const c = await cleanBaseline(world, zst, target);
    cleanImportMs = c.importMs;
    cleanJournalLines = journalLines(c.stateDir);
    assert.deepEqual(c.problems, []);
    cleanTags = c.tags;
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  const rand = prng(SEED);
  const exportPlans: KillPlan[] = [];
  const importPlans: { plan: KillPlan; form: 'tar.zst' | 'tar'; concurrency: number }[] = [];
  for (let i = 0; i < KILLS_PER_SIDE; i++) {
    // `at` is a fraction here; it is scaled to the clean run's duration or line count once known.
    exportPlans.push({ by: i % 2 === 0 ? 'time' : 'lines', at: rand() });
    importPlans.push({ plan: { by: i % 2 === 0 ? 'time' : 'lines', at: rand() }, form: i % 4 === 3 ? 'tar' : 'tar.zst', concurrency: 1 + Math.floor(rand() * 8) });
  }

  exportPlans.forEach((fraction, i) => {
    it(`export killed #${i + 1} (${fraction.by}, seed ${SEED})`, async () => {
      const out = join(world.ws.dir, `kill-export-${i}.tar.zst`);
      const cache = join(world.ws.dir, `cache-kill-${i}`);
      const args = ['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--cache', cache];
      // Node starts in ~0.2 s: spread time kills over [0.15 s, the clean run's duration].
      const plan: KillPlan = fraction.by === 'time'
        ? { by: 'time', at: 150 + fraction.at * cleanExportMs }
        : { by: 'lines', at: 1 + Math.floor(fraction.at * Math.max(1, cleanExportLines - 1)) };
      const k = await runAndKill(args, world, plan, (stderrLines) => stderrLines);
      // Invariant: under the final name there is either nothing or a whole, verifying bundle.
      let corrupt = false;
      if (existsSync(out)) {
        const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
        corrupt = v.code !== 0;
        assert.equal(v.code, 0, `a killed export left a bad file under the final name: ${describeRun(v)}`);
      }
      const again = await runCli(args, { env: world.ws.env });
      assert.equal(again.code, 0, describeRun(again));
      assert.equal(await artifactsOf(out), cleanArtifacts);
      const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
      assert.equal(v.code, 0, describeRun(v));
      // Staging directories a kill left beside the output (temp names, never the final one).
      const stale = readdirSync(world.ws.dir).filter((n) => n.startsWith(`.kill-export-${i}.tar.zst.staging-`)).length;
      recordOutcome({ group: 'kill', scenario: `SIGKILL during export (${plan.by})`, side: 'export', outcome: 'resumed', corrupt, detail: `${k.killed ? 'killed' : `finished first (exit ${k.code})`}${stale ? `; stale staging dirs left: ${stale}` : ''}` });
    });
  });

  importPlans.forEach(({ plan: fraction, form, concurrency }, i) => {
    it(`import killed #${i + 1} (${fraction.by}, ${form}, --concurrency ${concurrency}, seed ${SEED})`, async () => {
      const target = await startRegistry();
      disposers.push(() => target.stop());
      const state = join(world.ws.dir, `kill-import-${i}`);
      const args = importArgs(world, form === 'tar' ? tar : zst, target.host, state, ['--concurrency', String(concurrency)]);
      const plan: KillPlan = fraction.by === 'time'
        ? { by: 'time', at: 150 + fraction.at * cleanImportMs }
        : { by: 'lines', at: 1 + Math.floor(fraction.at * Math.max(1, cleanJournalLines - 1)) };
      const k = await runAndKill(args, world, plan, () => journalLines(state));
      // Invariant after the kill: nothing corrupt, no tag on incomplete or other content.
      const mid = await checkRegistry(target);
      const wrong = Object.entries(mid.tags).filter(([tag, d]) => cleanTags[tag] !== d);
      const corrupt = mid.problems.length > 0 || wrong.length > 0;
      recordOutcome({ group: 'kill', scenario: `SIGKILL during import (${plan.by})`, side: `import ${form}`, outcome: corrupt ? 'failed' : 'resumed', corrupt, detail: k.killed ? 'killed' : `finished first (exit ${k.code})` });
      assert.deepEqual(mid.problems, [], `after the kill (${JSON.stringify(plan)})`);
      assert.deepEqual(wrong, []);
      const again = await runCli(args, { env: world.ws.env });
      assert.equal(again.code, 0, describeRun(again));
      const end = await checkRegistry(target);
      assert.deepEqual(end.problems, []);
      assert.deepEqual(end.tags, cleanTags);
      await target.stop();
    });
  });

  // ------------------------------------------------------------------------------------------
  // Issue 17.1: the state kept across runs, and the target (or the cache and output) damaged
  // between some of them.
  const keptRand = prng(SEED + 17);
  type TargetLoss = 'none' | 'wipe' | 'repository' | 'gc';
  type ExportLoss = 'none' | 'output' | 'cache-bytes' | 'output-bytes';
  const targetLosses: readonly TargetLoss[] = ['none', 'wipe', 'repository', 'gc'];
  const exportLosses: readonly ExportLoss[] = ['none', 'output', 'cache-bytes', 'output-bytes'];
  const keptImports: { plan: KillPlan; loss: TargetLoss; concurrency: number }[] = [];
  const keptExports: { plan: KillPlan; loss: ExportLoss }[] = [];
  for (let i = 0; i < KEPT_KILLS_PER_SIDE; i++) {
    // The first run of each side starts from nothing; every later one loses something most times.
    keptExports.push({ plan: { by: i % 2 === 0 ? 'time' : 'lines', at: keptRand() }, loss: i === 0 ? 'none' : exportLosses[Math.floor(keptRand() * exportLosses.length)]! });
    keptImports.push({ plan: { by: i % 2 === 0 ? 'time' : 'lines', at: keptRand() }, loss: i === 0 ? 'none' : targetLosses[Math.floor(keptRand() * targetLosses.length)]!, concurrency: 1 + Math.floor(keptRand() * 8) });
  }

  /** Flip one byte in the middle of `path`, keeping its size and (to the nanosecond) its mtime. */
  const flipInPlace = (path: string, at: (size: number) => number): void => {
    const mtimeNs = statSync(path, { bigint: true }).mtimeNs;
    const data = readFileSync(path);
    data[at(data.length)]! ^= 0xff;
    writeFileSync(path, data);
    execFileSync('touch', ['-m', '-d', `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, '0')}`, path]);
  };

  keptExports.forEach(({ plan: fraction, loss }, i) => {
    it(`export killed, cache and output kept #${i + 1} (${fraction.by}, before it: ${loss}, seed ${SEED})`, async () => {
      const out = join(world.ws.dir, 'kept-export.tar.zst');
      const cache = join(world.ws.dir, 'cache-kept');
      const args = ['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--cache', cache];
      let damaged: bigint | undefined;
      if (loss === 'output') rmSync(out, { force: true });
      if (loss === 'cache-bytes') {
        const dir = join(cache, 'blobs', 'sha256');
        const files = existsSync(dir) ? readdirSync(dir).map((n) => join(dir, n)).filter((f) => statSync(f).size > 0) : [];
        if (files.length > 0) flipInPlace(files[Math.floor(keptRand() * files.length)]!, (n) => Math.floor(n / 2));
      }
      if (loss === 'output-bytes' && existsSync(out)) {
        // Under the cache's references into it: the layers' bytes, not the front.
        const refs = join(cache, 'refs', 'sha256');
        const ref = existsSync(refs) ? readdirSync(refs)[0] : undefined;
        const range = ref ? (JSON.parse(readFileSync(join(refs, ref), 'utf8')) as { ranges: [number, number][] }).ranges[0] : undefined;
        flipInPlace(out, (n) => (range ? range[0] + Math.floor(range[1] / 2) : Math.floor(n / 2)));
        damaged = statSync(out, { bigint: true }).mtimeNs;
      }
      const plan: KillPlan = fraction.by === 'time'
        ? { by: 'time', at: 150 + fraction.at * cleanExportMs }
        : { by: 'lines', at: 1 + Math.floor(fraction.at * Math.max(1, cleanExportLines - 1)) };
      const k = await runAndKill(args, world, plan, (stderrLines) => stderrLines);
      // Invariant: under the final name, nothing or a whole bundle that verifies (unless it is the
      // file this test damaged and the killed run did not get to replace it).
      let corrupt = false;
      if (existsSync(out) && statSync(out, { bigint: true }).mtimeNs !== damaged) {
        const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
        corrupt = v.code !== 0;
        assert.equal(v.code, 0, `a killed export left a bad file under the final name: ${describeRun(v)}`);
      }
      const again = await runCli(args, { env: world.ws.env });
      recordOutcome({ group: 'kill', scenario: `SIGKILL during export, cache and output kept (${plan.by}; before: ${loss})`, side: 'export', outcome: again.code === 0 && !corrupt ? 'resumed' : 'failed', corrupt, detail: k.killed ? 'killed' : `finished first (exit ${k.code})` });
      assert.equal(again.code, 0, describeRun(again));
      assert.equal(await artifactsOf(out), cleanArtifacts);
      const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
      assert.equal(v.code, 0, describeRun(v));
    });
  });

  let keptTarget: TestRegistry | undefined;
  keptImports.forEach(({ plan: fraction, loss, concurrency }, i) => {
    it(`import killed, state dir kept #${i + 1} (${fraction.by}, --concurrency ${concurrency}, before it: ${loss}, seed ${SEED})`, async () => {
      if (!keptTarget) {
        keptTarget = await startRegistry();
        const t = keptTarget;
        disposers.push(() => t.stop());
      }
      const target = keptTarget;
      const state = join(world.ws.dir, 'kept-import-state');
      let detail: string = loss;
      if (loss === 'wipe') {
        await wipeRegistry(target);
        await target.restart();
      } else if (loss === 'repository') {
        const repos = (await listRepositories(target)).sort();
        const victim = repos[Math.floor(keptRand() * repos.length)];
        if (victim) rmSync(join(target.storageDir, 'docker', 'registry', 'v2', 'repositories', victim), { recursive: true, force: true });
        detail = `repository ${victim ?? '(none)'} deleted`;
      } else if (loss === 'gc') {
        await target.garbageCollect({ deleteUntagged: true });
      }
      const args = importArgs(world, i % 3 === 2 ? tar : zst, target.host, state, ['--concurrency', String(concurrency)]);
      // Journal lines written by this run (the file is kept, and emptied when it is set aside).
      let base = journalLines(state);
      const lines = (): number => {
        const n = journalLines(state);
        if (n < base) base = 0;
        return n - base;
      };
      const plan: KillPlan = fraction.by === 'time'
        ? { by: 'time', at: 150 + fraction.at * cleanImportMs }
        : { by: 'lines', at: 1 + Math.floor(fraction.at * Math.max(1, cleanJournalLines - 1)) };
      const k = await runAndKill(args, world, plan, lines);
      // No tag on other content, ever; and nothing corrupt unless the garbage collector left it so
      // before this run (index children gone) and the kill came before the run put it right.
      const mid = await checkRegistry(target);
      const wrong = Object.entries(mid.tags).filter(([tag, d]) => cleanTags[tag] !== d);
      const corrupt = (loss !== 'gc' && mid.problems.length > 0) || wrong.length > 0;
      const again = await runCli(args, { env: world.ws.env });
      const end = await checkRegistry(target);
      const equal = again.code === 0 && end.problems.length === 0 && JSON.stringify(end.tags) === JSON.stringify(cleanTags);
      recordOutcome({ group: 'kill', scenario: `SIGKILL during import, state dir kept (${plan.by}; before: ${loss})`, side: 'import', outcome: equal && !corrupt ? 'resumed' : 'failed', corrupt, detail: `${k.killed ? 'killed' : `finished first (exit ${k.code})`}; ${detail}` });
      if (loss !== 'gc') assert.deepEqual(mid.problems, [], `after the kill (${JSON.stringify(plan)})`);
      assert.deepEqual(wrong, []);
      assert.equal(again.code, 0, describeRun(again));
      assert.deepEqual(end.problems, []);
      assert.deepEqual(end.tags, cleanTags);
    });
  });
});
