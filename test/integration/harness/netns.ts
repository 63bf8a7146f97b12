/**
 * A loopback-only network namespace for clients that fall back to the upstream name when a mirror
 * fails (containerd, podman: docs/ARCHITECTURE.md "Real clients through the mirror configs"): with no interface but `lo`, any such fallback
 * fails instead of leaving the machine, and a pull that succeeds was answered by a registry inside.
 *
 * `runInLoopbackNamespace` starts `unshare --net --mount --pid --fork --kill-child --mount-proc`, which
 * runs harness/netns-entry.js as PID 1 of new network, mount and PID namespaces. The entry brings `lo`
 * up, checks that it is alone, optionally maps host names to 127.0.0.1 (a private /etc/hosts), then
 * calls one exported function of a harness module and writes its JSON result to a file. Everything
 * that function starts (registries, the CLI, containerd, podman) runs inside. When the entry ends
 * or is killed, the kernel kills every process left in the PID namespace and the namespaces go with
 * them; the bind mounts made inside never reach the host (private propagation).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set in the entry's environment (and inherited by what it starts). */
export const NETNS_ENV = 'AIRLOCK_LOOPBACK_NETNS';
const ENTRY = fileURLToPath(new URL('./netns-entry.js', import.meta.url));

export interface NamespaceSpec {
  /** `import.meta.url` of the compiled harness module that exports `fn`. */
  readonly module: string;
  readonly fn: string;
  /** JSON-serialisable argument. */
  readonly args: unknown;
  /** Names that resolve to 127.0.0.1 inside (a private /etc/hosts). */
  readonly hosts?: readonly string[];
}

export interface NamespaceRun<T> {
  readonly value: T;
  /** The entry's stdout and stderr, for diagnostics. */
  readonly log: string;
}

/** The namespace identities of this process, which the entry must not share. */
export function namespaceIds(): { net: string; mnt: string } {
  return { net: readlinkSync('/proc/self/ns/net'), mnt: readlinkSync('/proc/self/ns/mnt') };
}

/** Network interfaces of this process's network namespace (/proc/net/dev follows the reader's namespace; /sys/class/net does not). */
export function networkInterfaces(): string[] {
  return readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter((n) => n !== '').sort();
}

/** Throws unless this process runs inside the entry's loopback-only namespace. */
export function assertInLoopbackNamespace(): void {
  const ifaces = networkInterfaces();
  if (process.env[NETNS_ENV] !== '1' || ifaces.join(',') !== 'lo') {
    throw new Error(`not inside a loopback-only network namespace (interfaces: ${ifaces.join(', ')}); refusing to run a client that may fall back to the network`);
  }
}

/** `mount --bind SOURCE TARGET`, only inside the namespace (its mount namespace is private). */
export function bindMount(source: string, target: string): void {
  assertInLoopbackNamespace();
  run('mount', ['--bind', source, target]);
}

/** A fresh tmpfs over TARGET, only inside the namespace. */
export function mountTmpfs(target: string): void {
  assertInLoopbackNamespace();
  run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', target]);
}

function run(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ? String(r.error) : ''}`);
}

/** What unshare needs: root (CAP_SYS_ADMIN) and util-linux's unshare with --kill-child. */
export function namespaceSupport(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (unshare of network, mount and PID namespaces)';
  const r = spawnSync('unshare', ['--net', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--mount-proc', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `unshare failed: ${r.stderr || String(r.error)}`;
}

/**
 * Run `spec.fn(spec.args)` from `spec.module` inside a new loopback-only network namespace (with
 * private mount and PID namespaces) and return its result. Rejects with the entry's log when the
 * function throws, the entry fails, or `timeoutMs` passes (the whole namespace is killed then).
 */
export async function runInLoopbackNamespace<T>(spec: NamespaceSpec, opts: { timeoutMs?: number } = {}): Promise<NamespaceRun<T>> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-netns-'));
  try {
    const specFile = join(dir, 'spec.json');
    const resultFile = join(dir, 'result.json');
    // Everything made inside goes under one temp dir, removed once the namespace (and its mounts,
    // such as containers/storage's private bind mount of its overlay home) is gone.
    const scratch = join(dir, 'tmp');
    await mkdir(scratch);
    await writeFile(specFile, JSON.stringify({ ...spec, resultFile, outside: namespaceIds() }));
    const child = spawn('unshare', [
      '--net', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--mount-proc', '--',
      process.execPath, '--enable-source-maps', ENTRY, specFile,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [NETNS_ENV]: '', TMPDIR: scratch } });
    let log = '';
    const keep = (c: Buffer): void => {
      log += c.toString('utf8');
      if (log.length > 200_000) log = log.slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    }).finally(() => clearTimeout(timer));
    let result: { ok: true; value: T } | { ok: false; error: string } | undefined;
    try {
      result = JSON.parse(await readFile(resultFile, 'utf8')) as typeof result;
    } catch {
      result = undefined;
    }
    if (result?.ok) return { value: result.value, log };
    const why = timedOut ? `timed out after ${opts.timeoutMs ?? 300_000} ms` : result ? result.error : `the namespace entry exited ${code} without a result`;
    throw new Error(`${spec.fn} in a loopback-only namespace: ${why}\n--- namespace log (tail)\n${log.slice(-8000)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
