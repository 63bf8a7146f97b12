/**
 * A real podman (Debian `podman`, 4.3 here: containers/image 5.23, the library CRI-O reads
 * registries.conf with too) reading only the configuration under test. podman has no flag for its
 * registries.conf.d and also reads /etc/containers/registries.conf.d (docs/ARCHITECTURE.md "Real clients through the mirror configs"), so this harness
 * bind-mounts its own /etc/containers (registries.conf, the generated drop-in, certs.d, policy.json)
 * and a tmpfs over /run, inside the loopback-only namespace of harness/netns.ts only: podman falls
 * back to the upstream name when a mirror fails. Storage lives in temp dirs (`--root`, `--runroot`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLoopbackNamespace, bindMount, mountTmpfs } from './netns.js';
import type { ProcResult } from './containerd.js';

export const PODMAN_BIN = process.env.AIRLOCK_PODMAN_BIN ?? '/usr/bin/podman';
/** overlay works on these machines; `vfs` where the temp dir cannot host overlay mounts. */
const STORAGE_DRIVER = process.env.AIRLOCK_PODMAN_STORAGE_DRIVER ?? 'overlay';

export interface PodmanConfig {
  /** The generated registries.conf.d: its `*.conf` files become /etc/containers/registries.conf.d/. */
  readonly registriesConfD: string;
  /** The generated containers/certs.d, if any: it becomes /etc/containers/certs.d/. */
  readonly certsD?: string;
}

export interface PodmanPullOptions {
  /** `--authfile` (test credentials, keyed by the mirror's host). */
  readonly authfile?: string;
  /** `--arch`: another child of a multi-arch index than this machine's. */
  readonly arch?: string;
}

export interface PodmanImage {
  /** The digest podman pulled the image by (the index's, for a multi-arch pull). */
  readonly digest: string;
  readonly repoDigests: readonly string[];
  readonly architecture: string;
}

export interface Podman {
  pull(ref: string, o?: PodmanPullOptions): Promise<ProcResult>;
  inspect(ref: string): Promise<PodmanImage | undefined>;
  /** The same configuration with new, empty storage. */
  freshStore(): Promise<Podman>;
  /** Remove the configuration and every store (the mounts end with the namespace). */
  remove(): Promise<void>;
}

let privateState = false;

/**
 * podman keeps locks, events and network state under /run/libpod and /run/containers whatever
 * --root says, and skopeo run as root keeps a blob-info cache in /var/lib/containers/cache. Inside
 * the namespace both get a private tmpfs, so nothing run there touches the host's. Call it before
 * the first skopeo or podman of a scenario.
 */
export async function privateContainersState(): Promise<void> {
  if (privateState) return;
  assertInLoopbackNamespace();
  mountTmpfs('/run');
  await mkdir('/var/lib/containers', { recursive: true, mode: 0o700 });
  mountTmpfs('/var/lib/containers');
  privateState = true;
}

/** Install the configuration under test as /etc/containers (inside the namespace) and return a podman that reads it. */
export async function setUpPodman(config: PodmanConfig): Promise<Podman> {
  assertInLoopbackNamespace();
  if (!existsSync(PODMAN_BIN)) throw new Error(`podman is not installed (${PODMAN_BIN}). Install it with: sudo apt-get install -y podman`);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-podman-'));
  const etc = join(dir, 'etc-containers');
  await mkdir(join(etc, 'registries.conf.d'), { recursive: true });
  await writeFile(join(etc, 'registries.conf'), '# airlock test: only the drop-in under test configures registries.\nunqualified-search-registries = []\n');
  await writeFile(join(etc, 'policy.json'), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }, null, 2)}\n`);
  for (const name of await readdir(config.registriesConfD)) {
    if (name.endsWith('.conf')) await cp(join(config.registriesConfD, name), join(etc, 'registries.conf.d', name));
  }
  if (config.certsD) await cp(config.certsD, join(etc, 'certs.d'), { recursive: true });
  bindMount(etc, '/etc/containers');
  await privateContainersState();
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  // No credentials unless a pull names an --authfile (never the host's /run/containers/0/auth.json).
  await writeFile(join(home, 'no-auth.json'), '{"auths":{}}\n');
  let stores = 0;
  const make = async (): Promise<Podman> => {
    const n = stores++;
    const store = join(dir, `store-${n}`);
    await mkdir(join(store, 'tmp'), { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(store, 'xdg-run'),
      TMPDIR: join(store, 'tmp'), REGISTRY_AUTH_FILE: join(home, 'no-auth.json'),
    };
    // The run root must be at most 50 characters (podman refuses longer): on the private /run.
    const runroot = `/run/airlock-podman-${n}`;
    const podman = (args: readonly string[]): Promise<ProcResult> => runPodman(['--root', join(store, 'root'), '--runroot', runroot, '--storage-driver', STORAGE_DRIVER, ...args], env);
    return {
      pull(ref, o = {}) {
        return podman(['pull', ...(o.authfile ? ['--authfile', o.authfile] : []), ...(o.arch ? ['--arch', o.arch] : []), ref]);
      },
      async inspect(ref) {
        const r = await podman(['image', 'inspect', ref]);
        if (r.code !== 0) throw new Error(`podman image inspect ${ref}: ${r.stderr}`);
        const [j] = JSON.parse(r.stdout) as { Digest: string; RepoDigests?: string[]; Architecture: string }[];
        if (!j) return undefined;
        return { digest: j.Digest, repoDigests: j.RepoDigests ?? [], architecture: j.Architecture };
      },
      freshStore: make,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  };
  return make();
}

function runPodman(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PODMAN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
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
