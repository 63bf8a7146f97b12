/**
 * Regenerates docs/RELIABILITY.md (issues 11, 17): runs the reliability, hostile-bundle, security, personality, real-client,
 * fuzz and architecture suites with node's test runner (TAP), collects the outcome lines they
 * append to $AIRLOCK_RELIABILITY_LOG, and writes one table row per scenario and side: runs,
 * outcome, corrupt results, notes (error codes, peak RSS, kills that landed).
 *
 *   npm run build && node dist/scripts/reliability-report.js            # the default CI counts
 *   npm run build && node dist/scripts/reliability-report.js --soak     # AIRLOCK_SOAK=1 counts
 *   node dist/scripts/reliability-report.js --from LOG [--tap TAP]       # rewrite from a saved run
 *
 * Exits 1 when a test failed, a scenario recorded a failure or a corrupt result, or a scenario the
 * issue lists is missing from the log.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutcomeRecord } from '../fixtures/harness/outcome.js';
import { helpRequested } from './usage.js';

helpRequested(`usage: node dist/scripts/reliability-report.js [--soak] | --from LOG [--tap TAP]
Runs the reliability suites and regenerates docs/RELIABILITY.md (or rewrites it from a saved run).`);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST_TEST = join(ROOT, 'dist', 'test');

/** Every scenario issue 11 names, as the suites record them (group, scenario prefix). */
const REQUIRED: readonly (readonly [string, string])[] = [
  ['faults', '5xx bursts'], ['faults', '429 with Retry-After'], ['faults', 'connection reset mid-body'], ['faults', 'stalled responses'],
  ['faults', 'truncated bodies'], ['faults', 'wrong Content-Length'], ['faults', 'manifest bytes do not match the digest'], ['faults', 'redirect to another host'],
  ['kill', 'SIGKILL during export'], ['kill', 'SIGKILL during import'],
  ['hostile', 'entry with ../'], ['hostile', 'absolute path'], ['hostile', 'symlink'], ['hostile', 'hard link'], ['hostile', 'character device'],
  ['hostile', 'block device'], ['hostile', 'duplicate blob entry'], ['hostile', 'airlock.json claims huge sizes'], ['hostile', 'airlock.json claims millions of blobs'],
  ['hostile', 'zstd stream that expands without bound'], ['hostile', 'truncation at every section boundary'], ['hostile', 'reordered entries'],
  ['hostile', 'wrong format version'], ['hostile', 'signature over another bundle'], ['hostile', 'signature by an untrusted key'], ['hostile', 'delta whose base is absent'],
  ['fuzz', 'reference parser'], ['fuzz', 'mirror-list parser'], ['fuzz', 'manifest and index parser'], ['fuzz', 'bundle reader'],
  ['resources', 'disk full during export'], ['resources', 'disk full during import journaling'],
  ['security', 'TLS verification on'], ['security', 'plain HTTP only when asked'], ['security', 'no secrets in output'], ['security', '--insecure-skip-signature'],
  ['load', '500 small images'],
  // Issue 17.3: registry personalities.
  ['personalities', 'Harbor: project missing (401'], ['personalities', 'Harbor: project missing (404'], ['personalities', 'Harbor: --create-projects'],
  ['personalities', 'Nexus: mount not honoured (in place)'], ['personalities', 'Nexus: mount not honoured (front to back)'],
  ['personalities', 'Nexus: delta base blobs'], ['personalities', 'Quay: nested path refused'], ['personalities', 'Quay: OCI media types refused'],
  ['personalities', 'GitLab: path deeper'], ['personalities', 'zot: Docker media types refused'], ['personalities', 'referrers API'],
  ['personalities', 'registry probe'],
  // Issue 17.1: the state on disk is a hint.
  ['kill', 'SIGKILL during export, cache and output kept'], ['kill', 'SIGKILL during import, state dir kept'],
  ['stale-state', 'target wiped and restarted'], ['stale-state', 'a repository deleted'], ['stale-state', 'garbage-collect --delete-untagged'],
  ['stale-state', 'restored from an older backup'], ['stale-state', 'a loss the journal sample misses'],
  // Issue 17.2: real clients (containerd, podman) pull through the configs import writes.
  ['clients', 'plain HTTP (--dest-tls-verify=false)'], ['clients', 'plain HTTP, basic auth'], ['clients', 'TLS with a private CA (--dest-cert-dir)'],
  ['clients', 'TLS with a private CA, basic auth'], ['clients', 'TLS not verified'], ['clients', 'Docker Hub names (docker.io'], ['clients', 'Docker Hub names, plain HTTP'],
  ['stale-state', 'download cache entries wrong'], ['stale-state', 'cache references into a bundle'], ['stale-state', 'a spooled piece of a split bundle'], ['stale-state', 'download cache: every file damaged'],
];

const GROUP_TITLES: Readonly<Record<string, string>> = {
  faults: 'Network faults (fault-injecting proxy in front of a real Distribution registry)',
  kill: 'SIGKILL at seeded random moments, invariant check, re-run',
  hostile: 'Hostile bundles (built in code from a good, signed bundle; imported with the CLI)',
  resources: 'Resource faults',
  load: 'Load',
  security: 'Security defaults',
  fuzz: 'Fuzzing (fast-check): never an unhandled exception, always a typed error',
  'stale-state': 'State on disk is a hint: the target lost content, the download cache is wrong (same --state-dir, same --cache)',
  clients: 'Real clients through the configs import writes (containerd `ctr --hosts-dir` and podman in a loopback-only network namespace, the upstream registry stopped)',
  personalities: 'Registry personalities (a proxy in front of a real Distribution registry emulates what Harbor, Nexus, Quay, GitLab, zot and OCI 1.1 registries document)',
};

function testFiles(): string[] {
  const out: string[] = [];
  const pick = (dir: string, re: RegExp): void => {
    if (!existsSync(dir)) return;
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) pick(p, re);
      else if (re.test(relative(DIST_TEST, p))) out.push(p);
    }
  };
  pick(join(DIST_TEST, 'integration'), /^integration\/(reliability|hostile|security|personalities|stale-state|clients)[^/]*\.test\.js$/);
  pick(join(DIST_TEST, 'unit', 'fuzz'), /\.test\.js$/);
  pick(join(DIST_TEST, 'unit'), /^unit\/architecture\.test\.js$/);
  return out;
}

async function runSuites(log: string, soak: boolean): Promise<string> {
  const files = testFiles();
  if (files.length === 0) throw new Error('no compiled test files: run `npm run build` first');
  process.stderr.write(`running ${files.length} test files${soak ? ' (AIRLOCK_SOAK=1)' : ''}\n`);
  const child = spawn(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files], {
    cwd: ROOT, env: { ...process.env, AIRLOCK_RELIABILITY_LOG: log, ...(soak ? { AIRLOCK_SOAK: '1' } : {}) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => {
    chunks.push(c);
    for (const line of c.toString('utf8').split('\n')) if (/^# Subtest: |^not ok /.test(line.trim())) process.stderr.write(`${line.trim()}\n`);
  });
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  return Buffer.concat(chunks).toString('utf8');
}

interface Row {
  group: string;
  scenario: string;
  side: string;
  runs: number;
  outcomes: Map<string, number>;
  corrupt: number;
  details: string[];
}

function aggregate(records: readonly OutcomeRecord[]): Row[] {
  const rows = new Map<string, Row>();
  for (const r of records) {
    const k = `${r.group}\u0000${r.scenario}\u0000${r.side}`;
    let row = rows.get(k);
    if (!row) rows.set(k, (row = { group: r.group, scenario: r.scenario, side: r.side, runs: 0, outcomes: new Map(), corrupt: 0, details: [] }));
    const n = r.runs ?? 1;
    row.runs += n;
    row.outcomes.set(r.outcome, (row.outcomes.get(r.outcome) ?? 0) + n);
    if (r.corrupt) row.corrupt += 1;
    if (r.detail) row.details.push(r.detail);
  }
  return [...rows.values()];
}

function notes(row: Row): string {
  const parts: string[] = [];
  const codes = new Set<string>();
  let rss = 0;
  let killed = 0;
  let first = 0;
  let stale = 0;
  for (const d of row.details) {
    for (const m of d.matchAll(/\b([A-Z][A-Z_]+)\b/g)) if (m[1] !== 'RSS') codes.add(m[1]!);
    const r = /peak RSS (\d+) MiB/.exec(d);
    if (r) rss = Math.max(rss, Number(r[1]));
    if (/^killed/.test(d)) killed++;
    if (/^finished first/.test(d)) first++;
    if (/stale staging dirs left: (\d+)/.test(d)) stale += Number(/stale staging dirs left: (\d+)/.exec(d)![1]);
  }
  if (killed + first > 0) parts.push(`SIGKILL landed in ${killed}/${killed + first} runs${first > 0 ? ` (${first} finished before the kill)` : ''}`);
  if (stale > 0) parts.push(`${stale} stale staging dir(s) left beside the output (temp names)`);
  if (codes.size > 0) parts.push(`codes: ${[...codes].sort().join(', ')}`);
  if (rss > 0) parts.push(`max peak RSS ${rss} MiB`);
  if (parts.length === 0 && row.details.length > 0) {
    const uniq = [...new Set(row.details)];
    parts.push(uniq.slice(0, 2).join('; ') + (uniq.length > 2 ? '; …' : ''));
  } else if (row.group === 'load' || row.group === 'resources') {
    parts.push([...new Set(row.details)].slice(0, 2).join('; '));
  }
  return parts.join('; ').replace(/\|/g, '\\|');
}

function outcomeText(row: Row): string {
  const order = ['correct', 'resumed', 'clear-error', 'skipped', 'failed'];
  return [...row.outcomes.entries()].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0])).map(([o, n]) => `${o} ×${n}`).join(', ');
}

function tapSummary(tap: string): { pass: number; fail: number; tests: number } {
  const num = (k: string): number => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  return { pass: num('pass'), fail: num('fail'), tests: num('tests') };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const soak = args.includes('--soak');
  const fromAt = args.indexOf('--from');
  const tapAt = args.indexOf('--tap');
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1]! : join(ROOT, 'docs', 'RELIABILITY.md');
  let logText: string;
  let tap: string;
  if (fromAt >= 0) {
    logText = await readFile(args[fromAt + 1]!, 'utf8');
    tap = tapAt >= 0 ? await readFile(args[tapAt + 1]!, 'utf8') : '';
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-reliability-'));
    const log = join(dir, 'outcomes.jsonl');
    await writeFile(log, '');
    try {
      tap = await runSuites(log, soak);
      logText = await readFile(log, 'utf8');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const records = logText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutcomeRecord);
  const rows = aggregate(records);
  const summary = tapSummary(tap);
  const soakRun = soak;

  const missing = REQUIRED.filter(([g, s]) => !rows.some((r) => r.group === g && r.scenario.startsWith(s)));
  const failed = rows.filter((r) => (r.outcomes.get('failed') ?? 0) > 0);
  const corrupt = rows.reduce((s, r) => s + r.corrupt, 0);
  const totalRuns = rows.reduce((s, r) => s + r.runs, 0);

  const lines: string[] = [
    '# Reliability',
    '',
    '<!-- Generated by scripts/reliability-report.ts; do not edit by hand. -->',
    '',
    'What issue 11 asks of airlock under faults, kills, hostile input, resource exhaustion and load,',
    'and what the suites measured. Regenerate with `npm run build && node dist/scripts/reliability-report.js`',
    '(add `--soak` for the heavier counts that `npm run test:soak` runs: 24 kills per side with fresh state',
    'and 20 more per side with the state directory and cache kept across runs, every tar',
    'entry boundary, both bundle forms for every network fault, 1.2 million blob records).',
    '',
    `Generated ${new Date().toISOString().slice(0, 10)} (${soakRun ? 'soak counts, AIRLOCK_SOAK=1' : 'default CI counts'}):`,
    `${totalRuns} scenario runs in ${rows.length} rows; **${corrupt} corrupt results**; ${failed.length} rows with a failed run;`,
    `${summary.tests ? `test runner: ${summary.pass}/${summary.tests} tests passed` : 'test runner output not given'}.`,
    '',
    'Outcomes: **correct**: the run ended with the right result (the target equals a clean run, or the',
    'bundle verifies and holds the upstream digests). **clear-error**: exit 1, 2 or 3 with a coded error',
    '(never INTERNAL) naming where and what next, and the target holds no corrupt blob and no tag on',
    'incomplete or other content (checked by the harness\'s own HTTP client walking every tag); after',
    'network and disk faults the re-run then finishes and equals a clean run. **resumed**: SIGKILL, the',
    'invariant holds right after the kill, and the re-run equals a clean run. **Corrupt** counts runs whose',
    'target or output held a corrupt blob, a wrong tag, or a tag on incomplete content.',
    '',
  ];
  for (const group of Object.keys(GROUP_TITLES)) {
    const gr = rows.filter((r) => r.group === group);
    if (gr.length === 0) continue;
    lines.push(`## ${GROUP_TITLES[group]}`, '', '| scenario | side | runs | outcome | corrupt | notes |', '|---|---|---:|---|---:|---|');
    for (const r of gr) lines.push(`| ${r.scenario.replace(/\|/g, '\\|')} | ${r.side} | ${r.runs} | ${outcomeText(r)} | ${r.corrupt} | ${notes(r)} |`);
    lines.push('');
  }
  lines.push(
    '## Notes',
    '',
    '- Stalled responses: the proxy holds a request for 1.5-2.5 s and the run completes. The client\'s own',
    '  timeout (120 s, not a CLI flag) is exercised by `test/integration/registry-faults.test.ts` with a',
    '  short `timeoutMs`; an endless stall through the CLI would take minutes per run.',
    '- An airlock `.tar.zst`, a `.tar` and a bundle directory are read in place, and a blob upload that',
    '  fails is retried from the file (twice, as for a registry source). Split volumes and bundles',
    '  recompressed by another tool are read front to back and cannot re-read a blob mid-stream: a',
    '  failure there ends the run with exit 1 (clear-error above) and the journal lets the re-run',
    '  continue; the rows prove that the target held nothing corrupt in between.',
    '- An export writes each layer once, into the bundle; its download cache records where the layer',
    '  lies (a reference) only after the bundle is published, so a kill before that leaves no reference',
    '  and the next export downloads the layer again.',
    '- The import journal (`--state-dir`) and the export\'s download cache (`--cache`) are hints, never the',
    '  truth: import checks a sample of the journal\'s claims first (every tag up to 32, 8 manifests, 8 blobs)',
    '  and sets the journal aside on any miss; a manifest or tag push the target refuses for want of content',
    '  sets it aside too, and the run reads the bundle again, checks everything and finishes. A multi-arch',
    '  index the target holds is not taken to prove its children (garbage-collect --delete-untagged drops them).',
    '  A cache file or reference whose bytes are wrong is evicted and downloaded again in the same export.',
    '  The "state kept" kill rows run every kill against one target and one state directory (one cache and',
    '  one output for export), damaging them between some runs, as the row names say.',
    '- Byte-level mutations of whole bundles are fuzzed by `test/unit/bundle/fuzz.test.ts` as well.',
    '- Registry personalities (`fixtures/harness/personality-proxy.ts`, each rule citing the product\'s',
    '  documentation or source): a clear-error row means the import stopped before any blob or manifest of the',
    '  bundle reached the registry (its preflight opens and cancels an upload session per repository and tries each',
    '  manifest media type with a tiny test document); a correct row means the target equals a clean import into',
    '  plain Distribution (minus the referrers fallback tag where the registry has the referrers API).',
    '- Disk full uses a tmpfs (`mount -t tmpfs`, root). Where mounting is refused the row says `skipped`',
    '  with the reason, and the test asserts that the reason is a permission refusal.',
    '',
  );
  if (missing.length > 0) lines.push('## Missing scenarios', '', ...missing.map(([g, s]) => `- ${g}: ${s}`), '');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${lines.join('\n')}`);
  process.stderr.write(`wrote ${out}: ${rows.length} rows, ${totalRuns} runs, ${corrupt} corrupt, ${failed.length} failed rows, ${missing.length} missing; tests ${summary.pass}/${summary.tests}\n`);
  return summary.fail > 0 || failed.length > 0 || corrupt > 0 || missing.length > 0 ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`reliability-report: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
