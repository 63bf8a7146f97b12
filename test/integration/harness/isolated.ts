/**
 * Run a program as it runs on an isolated host that has no Node.js and no node_modules: in a
 * private mount namespace (`unshare --mount`, root needed) in which every node binary is covered
 * by an empty, non-executable file and every node_modules tree (this checkout, whose node_modules
 * and dist the tests use, and the global ones) by an empty tmpfs, with an empty environment
 * (`env -i`) but for PATH=/usr/bin:/bin, HOME and TMPDIR. Nothing outside the namespace changes.
 * With `keepNode`, node stays (the offline npm package needs it) and only node_modules are hidden.
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This checkout (the tests run from dist/test/integration/harness/). */
export const CHECKOUT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

/** Directories that hold node_modules a program could load from. */
export function nodeModuleDirs(): string[] {
  return [CHECKOUT, '/usr/lib/node_modules', '/usr/local/lib/node_modules', '/usr/share/nodejs', '/usr/lib/nodejs']
    .filter((d) => existsSync(d));
}

/** Every node binary this machine has where a program would look for one. */
export function nodeBinaries(): string[] {
  const found = new Set<string>();
  for (const p of [process.execPath, '/usr/bin/node', '/usr/bin/nodejs', '/usr/local/bin/node', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'node'))]) {
    if (p && existsSync(p)) found.add(realpathSync(p));
  }
  return [...found];
}

export interface IsolatedOptions {
  /** Working directory (must lie outside the hidden directories). */
  readonly cwd: string;
  /** HOME and TMPDIR inside. */
  readonly home: string;
  readonly tmpdir: string;
  /** Leave node in place (for the npm package); node_modules stay hidden. */
  readonly keepNode?: boolean;
  /** Mount an empty tmpfs with `noexec` on TMPDIR, as hardened hosts mount /tmp. */
  readonly noexecTmpdir?: boolean;
  /** Kill after this long. Default 300 s. */
  readonly timeoutMs?: number;
  readonly input?: string;
}

export interface IsolatedResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const SCRIPT = `set -e
printf '%s\\n' "$AIRLOCK_HIDE_DIRS" | while IFS= read -r d; do [ -z "$d" ] || mount -t tmpfs -o size=64k,mode=0755 airlock-hidden "$d"; done
printf '%s\\n' "$AIRLOCK_HIDE_FILES" | while IFS= read -r f; do [ -z "$f" ] || mount --bind "$AIRLOCK_EMPTY" "$f"; done
[ -z "$AIRLOCK_NOEXEC_TMP" ] || mount -t tmpfs -o noexec,size=16m,mode=0777 airlock-noexec "$AIRLOCK_TMPDIR"
cd "$AIRLOCK_CWD"
exec env -i PATH=/usr/bin:/bin HOME="$AIRLOCK_HOME" TMPDIR="$AIRLOCK_TMPDIR" "$@"`;

/** Run `cmd args` isolated (see the module comment). */
export async function runIsolated(cmd: string, args: readonly string[], opts: IsolatedOptions): Promise<IsolatedResult> {
  const empty = join(opts.home, '.airlock-empty-file');
  await writeFile(empty, '', { mode: 0o644 });
  const env = {
    ...process.env,
    AIRLOCK_HIDE_DIRS: nodeModuleDirs().join('\n'),
    AIRLOCK_HIDE_FILES: opts.keepNode ? '' : nodeBinaries().join('\n'),
    AIRLOCK_EMPTY: empty,
    AIRLOCK_CWD: opts.cwd,
    AIRLOCK_HOME: opts.home,
    AIRLOCK_TMPDIR: opts.tmpdir,
    AIRLOCK_NOEXEC_TMP: opts.noexecTmpdir ? '1' : '',
  };
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', SCRIPT, 'sh', cmd, ...args], {
      env, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
