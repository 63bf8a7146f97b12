/**
 * A real containerd daemon (Debian `containerd`, 1.6 here) with its own root, state, socket and opt
 * directories under one temp dir, its CRI plugin off, and `ctr` pointed at it. Only inside the
 * loopback-only namespace of harness/netns.ts: ctr falls back to the upstream name when a mirror fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLoopbackNamespace } from './netns.js';

export const CONTAINERD_BIN = process.env.AIRLOCK_CONTAINERD_BIN ?? '/usr/bin/containerd';
export const CTR_BIN = process.env.AIRLOCK_CTR_BIN ?? '/usr/bin/ctr';

export interface ProcResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CtrImage {
  readonly ref: string;
  readonly mediaType: string;
  readonly digest: string;
  readonly platforms: readonly string[];
}

export interface PullOptions {
  /** `--hosts-dir`: the generated `containerd/certs.d`. */
  readonly hostsDir: string;
  /** `--user USER:PASSWORD` (test credentials only). */
  readonly user?: string;
  /** `--all-platforms`: every child of an index, not only this machine's. */
  readonly allPlatforms?: boolean;
  /** containerd namespace (a fresh one holds no content). Default `airlock`. */
  readonly namespace?: string;
}

export interface Containerd {
  readonly dir: string;
  readonly address: string;
  ctr(args: readonly string[], namespace?: string): Promise<ProcResult>;
  /** `ctr images pull` (fetch and unpack) of an image reference. */
  pull(ref: string, o: PullOptions): Promise<ProcResult>;
  /** `ctr images ls`: what the namespace holds, by reference. */
  images(namespace?: string): Promise<CtrImage[]>;
  /** `ctr images check`: reference → status (`complete (n/n)` when every blob of this platform is there). */
  check(namespace?: string): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

function runProc(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function startContainerd(): Promise<Containerd> {
  assertInLoopbackNamespace();
  if (!existsSync(CONTAINERD_BIN) || !existsSync(CTR_BIN)) {
    throw new Error(`containerd is not installed (${CONTAINERD_BIN}, ${CTR_BIN}). Install it with: sudo apt-get install -y containerd`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'airlock-containerd-'));
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  await writeFile(config, [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'root'))}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    // Kubernetes' CRI plugin is not what these tests drive (ctr is), and it wants more of the host.
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = ${JSON.stringify(address)}`,
    '[ttrpc]', `  address = ${JSON.stringify(join(dir, 'containerd-ttrpc.sock'))}`,
    '[debug]', '  address = ""',
    // Its default is /opt/containerd, on the host's disk.
    '[plugins."io.containerd.internal.v1.opt"]', `  path = ${JSON.stringify(join(dir, 'opt'))}`,
    '',
  ].join('\n'));
  const logPath = join(dir, 'containerd.log');
  const logFd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(CONTAINERD_BIN, ['--config', config], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const ctr = (args: readonly string[], namespace = 'airlock'): Promise<ProcResult> => runProc(CTR_BIN, ['--address', address, '--namespace', namespace, ...args]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited with ${child.exitCode}: ${log()}`);
    if (existsSync(address) && (await ctr(['version'])).code === 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`containerd did not answer on ${address} within 30 s: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped = false;
  return {
    dir,
    address,
    ctr,
    pull(ref, o) {
      return ctr(['images', 'pull', '--hosts-dir', o.hostsDir, ...(o.user ? ['--user', o.user] : []), ...(o.allPlatforms ? ['--all-platforms'] : []), ref], o.namespace);
    },
    async images(namespace) {
      const r = await ctr(['images', 'ls'], namespace);
      if (r.code !== 0) throw new Error(`ctr images ls: ${r.stderr}`);
      // REF TYPE DIGEST SIZE(2 words) PLATFORMS LABELS
      return r.stdout.trim().split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => {
        const f = l.trim().split(/\s+/);
        return { ref: f[0]!, mediaType: f[1]!, digest: f[2]!, platforms: (f[5] ?? '').split(',').filter((p) => p !== '') };
      });
    },
    async check(namespace) {
      const r = await ctr(['images', 'check'], namespace);
      if (r.code !== 0) throw new Error(`ctr images check: ${r.stderr}`);
      const out = new Map<string, string>();
      for (const l of r.stdout.trim().split('\n').slice(1)) {
        const m = /^(\S+)\s+\S+\s+\S+\s+(\S+(?: \(\d+\/\d+\))?)/.exec(l.trim());
        if (m) out.set(m[1]!, m[2]!);
      }
      return out;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
