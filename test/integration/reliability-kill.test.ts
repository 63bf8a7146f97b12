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
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBundleFront } from '../../src/bundle/index.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import {
  SOAK, checkRegistry, describeRun, exportTo, importArgs, makeWorld, prng, recordOutcome, runCli, type World,
} from './harness/reliability.js';

const KILLS_PER_SIDE = SOAK ? 24 : 4;
const SEED = Number(process.env.AIRLOCK_KILL_SEED ?? 20_251_111);

/** Lines in every *.jsonl under `dir` (the import journal). */
function journalLines(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.jsonl')) n += readFileSync(p, 'utf8').split('\n').filter(Boolean).length;
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
    let s = Date.now();
    await exportTo(world, zst);
    cleanExportMs = Date.now() - s;
    await exportTo(world, tar);
    cleanArtifacts = await artifactsOf(zst);
    const probe = await runCli(['bundle', 'export', '-f', world.mirror, '-o', join(world.ws.dir, 'probe.tar'), '--cache', join(world.ws.dir, 'cache-probe')], { env: world.ws.env });
    cleanExportLines = probe.stderr.split('\n').filter(Boolean).length;
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const state = join(world.ws.dir, 'clean-state');
    s = Date.now();
    const r = await runCli(importArgs(world, zst, target.host, state), { env: world.ws.env });
    cleanImportMs = Date.now() - s;
    assert.equal(r.code, 0, describeRun(r));
    cleanJournalLines = journalLines(state);
    const c = await checkRegistry(target);
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
});
