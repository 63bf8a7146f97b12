/**
 * Measuring one child process without `perf`: wall time from the parent, CPU time, peak RSS and
 * bytes written to disk from GNU time (`/usr/bin/time -f`), loopback bytes from /proc/net/dev,
 * and the registries' own CPU time from /proc/<pid>/stat.
 *
 * GNU time's %O is the kernel's ru_oublock, which Linux computes as `/proc/<pid>/io` write_bytes
 * / 512 (kernel/sys.c, task_io_get_oublock): the same counter, readable after the process has
 * been reaped (its /proc entry is gone by then). %M is the peak RSS (VmHWM) in KiB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const TIME_BIN = '/usr/bin/time';
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface Measurement {
  readonly wallS: number;
  readonly userS: number;
  readonly sysS: number;
  readonly cpuS: number;
  readonly maxRssMiB: number;
  /** /proc/<pid>/io write_bytes (via ru_oublock × 512). */
  readonly diskWriteBytes: number;
  /** Bytes that crossed the loopback interface while the command ran (both directions' payload, counted once). */
  readonly loopbackBytes: number;
  /** CPU seconds the registries spent meanwhile. */
  readonly registryCpuS: number;
  /**
   * Page faults served without I/O (GNU time's %R), the command's and the registries' meanwhile
   * (/proc/<pid>/stat minflt). In this guest one costs ~12 µs of the faulting process's CPU
   * (docs/BENCHMARKS.md), so they explain CPU that no profile of the code shows.
   */
  readonly minorFaults: number;
  readonly registryMinorFaults: number;
}

export interface MeasureOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdin?: string;
  /** Directories of running test registries (their pid is found by their config path). */
  readonly registryDirs?: readonly string[];
  /** Stdout of the command is kept and returned. */
  readonly label: string;
}

export interface MeasuredRun extends Measurement {
  readonly stdout: string;
}

function loopbackBytes(): number {
  const dev = readFileSync('/proc/net/dev', 'utf8');
  const line = dev.split('\n').find((l) => l.trim().startsWith('lo:'));
  if (!line) return 0;
  return Number(line.split(':')[1]!.trim().split(/\s+/)[0]);
}

/** pids whose command line names `dir` (the registry's config lives in its dir). */
function pidsOf(dirs: readonly string[]): number[] {
  if (dirs.length === 0) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(join('/proc', name, 'cmdline'), 'utf8');
      if (dirs.some((d) => cmd.includes(d))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Summed CPU ticks and minor faults of `pids`. */
function usageOf(pids: readonly number[]): { ticks: number; minorFaults: number } {
  let ticks = 0;
  let minorFaults = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
      minorFaults += Number(fields[7]); // minflt (field 10)
    } catch {
      // gone
    }
  }
  return { ticks, minorFaults };
}

export async function measure(cmd: string, args: readonly string[], opts: MeasureOptions): Promise<MeasuredRun> {
  const timeFile = join(opts.cwd ?? '/tmp', `.bench-time-${process.pid}-${Date.now()}`);
  // Untimed: write back what the previous run left dirty (GBs: a bundle, skopeo's dir), so no run
  // pays, in throttled writes and slow fsyncs, for the one before it (hyperfine's --prepare sync).
  spawnSync('sync');
  const pids = pidsOf(opts.registryDirs ?? []);
  const regBefore = usageOf(pids);
  const loBefore = loopbackBytes();
  const started = process.hrtime.bigint();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(TIME_BIN, ['-f', '%e %U %S %M %O %R', '-o', timeFile, cmd, ...args], {
      cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-8000);
    });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err }));
  });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const loAfter = loopbackBytes();
  const regAfter = usageOf(pids);
  if (code !== 0) {
    await rm(timeFile, { force: true });
    throw new Error(`${opts.label}: ${cmd} ${args.join(' ')} exited with ${code}\n${stderr}`);
  }
  const raw = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  await rm(timeFile, { force: true });
  const [, user, sys, rssKiB, outBlocks, minorFaults] = raw as [number, number, number, number, number, number];
  return {
    wallS, userS: user, sysS: sys, cpuS: user + sys, maxRssMiB: rssKiB / 1024, diskWriteBytes: outBlocks * 512,
    loopbackBytes: loAfter - loBefore, registryCpuS: (regAfter.ticks - regBefore.ticks) / CLOCK_TICKS,
    minorFaults, registryMinorFaults: regAfter.minorFaults - regBefore.minorFaults, stdout,
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per-field medians of several runs. */
export function medianOf(runs: readonly Measurement[]): Measurement {
  const f = (k: keyof Measurement): number => median(runs.map((r) => r[k]));
  return {
    wallS: f('wallS'), userS: f('userS'), sysS: f('sysS'), cpuS: f('cpuS'), maxRssMiB: f('maxRssMiB'),
    diskWriteBytes: f('diskWriteBytes'), loopbackBytes: f('loopbackBytes'), registryCpuS: f('registryCpuS'),
    minorFaults: f('minorFaults'), registryMinorFaults: f('registryMinorFaults'),
  };
}
