/**
 * Runs the built CLI (`bin/airlock.js`, after `npm run build`) as a child process, the way users
 * and scripts do: exit code, stdout, stderr and the `--json` document. Plus what the kill tests
 * need: the child's `/proc/<pid>/io` counters and a SIGKILL at a moment chosen from outside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/airlock.js at the repository root (this file runs from dist/test/integration/harness/). */
export const CLI_PATH = fileURLToPath(new URL('../../../../bin/airlock.js', import.meta.url));

export interface CliResult {
  /** Exit code; null when the process died by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunCliOptions {
  /** Written to stdin, then stdin is closed. Default: stdin ignored. */
  readonly input?: string;
  /** Added to the environment. XDG_* dirs default to a throwaway place so nothing reaches $HOME. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Kill with SIGKILL after this long (a hung CLI must not hang the suite). Default 120 s. */
  readonly timeoutMs?: number;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited and its output is drained. */
  readonly done: Promise<CliResult>;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
}

const SCRATCH_XDG = join(tmpdir(), `airlock-test-xdg-${process.pid}`);

/** Start the CLI without waiting for it. */
export function spawnCli(args: readonly string[], opts: RunCliOptions = {}): CliProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Never the user's home: a test that forgets --cache/--state-dir writes into scratch space.
    XDG_CACHE_HOME: join(SCRATCH_XDG, 'cache'),
    XDG_STATE_HOME: join(SCRATCH_XDG, 'state'),
    XDG_CONFIG_HOME: join(SCRATCH_XDG, 'config'),
    NO_COLOR: '1',
    ...opts.env,
  };
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  timer.unref();
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return { child, pid: child.pid!, done, stdout: () => out, stderr: () => err };
}

/** Run the CLI to the end. */
export async function runCli(args: readonly string[], opts: RunCliOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).done;
}

/** The one JSON document a `--json` run prints on stdout. Throws when stdout is not exactly one document. */
export function parseJsonOutput<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr.slice(0, 2000)}`);
  }
}

/** `error.code` of a `--json` failure. */
export function jsonErrorCode(r: CliResult): string | undefined {
  return parseJsonOutput<{ error?: { code?: string } }>(r).error?.code;
}

/** Describe a result for assertion messages. */
export function describeResult(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout.slice(0, 3000)}\n--- stderr\n${r.stderr.slice(0, 3000)}`;
}

export interface ProcIo {
  /** Bytes passed to read()/write() and friends. */
  readonly rchar: number;
  readonly wchar: number;
  /** Bytes the process caused to be fetched from / sent to storage (page cache writeback counts later). */
  readonly read_bytes: number;
  readonly write_bytes: number;
}

/** `/proc/<pid>/io` (Linux). Undefined once the process is gone. */
export async function readProcIo(pid: number): Promise<ProcIo | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/io`, 'utf8');
  } catch {
    return undefined;
  }
  const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { rchar: get('rchar'), wchar: get('wchar'), read_bytes: get('read_bytes'), write_bytes: get('write_bytes') };
}

export interface KillWhenOptions extends RunCliOptions {
  /** Polled until it returns true; then the process gets SIGKILL. */
  readonly when: (p: CliProcess) => boolean | Promise<boolean>;
  /** Poll interval. Default 5 ms. */
  readonly pollMs?: number;
}

export interface KillResult extends CliResult {
  /** True when the SIGKILL landed (false: the process ended before the moment came). */
  readonly killed: boolean;
}

/**
 * Start the CLI and SIGKILL it at the first poll where `when` holds: after N journal lines, when a
 * fault proxy holds the Nth upload, after N bytes written (readProcIo)… The result says whether the
 * kill landed before the process finished on its own.
 */
export async function runCliKillWhen(args: readonly string[], opts: KillWhenOptions): Promise<KillResult> {
  const p = spawnCli(args, opts);
  let exited = false;
  void p.done.then(() => (exited = true), () => (exited = true));
  let killed = false;
  while (!exited) {
    if (await opts.when(p)) {
      if (!exited) killed = p.child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 5));
  }
  const r = await p.done;
  return { ...r, killed: killed && r.signal === 'SIGKILL' };
}

/** Wait until `cond` holds (polling), or throw after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
