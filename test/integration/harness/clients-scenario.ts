/**
 * One deployment-outputs scenario, run inside the loopback-only namespace of harness/netns.ts
 * (`runInLoopbackNamespace({ module: CLIENTS_SCENARIO, fn: 'pullThroughMirror', args: variant })`):
 *
 *   upstream registry ─ airlock bundle export ─▶ bundle ─ (upstream stopped) ─ airlock bundle import ─▶ mirror
 *   then containerd (ctr --hosts-dir) and podman (the generated registries.conf.d, certs.d) pull the
 *   upstream names by tag and by digest through the generated files, and the mirror's own names;
 *   then, the mirror stopped too, the same pulls into empty stores, which must fail.
 *
 * It gathers facts and returns them; the test judges them. Names resolve through a private
 * /etc/hosts (upstream.airlock.test, mirror.airlock.test, and registry-1.docker.io for the Docker Hub
 * variant): real host names, so no client applies its localhost rules.
 */
import { connect } from 'node:net';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runCli, type CliResult } from './cli.js';
import { startContainerd, type CtrImage } from './containerd.js';
import { randomImage } from './images.js';
import { assertInLoopbackNamespace, networkInterfaces } from './netns.js';
import { privateContainersState, setUpPodman, type PodmanImage } from './podman.js';
import { makeTestCa, startRegistry } from './registry.js';
import { skopeo } from './skopeo.js';

/** import.meta.url of this module, for runInLoopbackNamespace. */
export const CLIENTS_SCENARIO = import.meta.url;
export const UPSTREAM_NAME = 'upstream.airlock.test';
export const MIRROR_NAME = 'mirror.airlock.test';
export const DOCKER_HUB_API_NAME = 'registry-1.docker.io';
/** Every name the scenarios use, for the namespace's /etc/hosts. */
export const SCENARIO_HOSTS = [UPSTREAM_NAME, MIRROR_NAME, DOCKER_HUB_API_NAME] as const;

export interface ClientsVariant {
  readonly name: string;
  /** How the mirror (the import target) serves, and the import flags that go with it. */
  readonly mirror: 'http' | 'tls-ca' | 'tls-skip-verify';
  /** The mirror asks for basic auth. */
  readonly auth: boolean;
  /** `--to HOST/PREFIX`; '' for none. */
  readonly prefix: string;
  readonly layout: 'flat' | 'scoped';
  /** The upstream is Docker Hub (docker.io/library/…), served inside on registry-1.docker.io:443. */
  readonly dockerHub?: boolean;
}

export interface Pull {
  readonly ref: string;
  /** What the test expects the client to hold for `ref`. */
  readonly digest: string;
  readonly code: number | null;
  /** The end of the client's stderr. */
  readonly stderr: string;
}

export interface ScenarioReport {
  readonly interfaces: readonly string[];
  readonly upstream: string;
  readonly mirror: string;
  readonly importCode: number | null;
  readonly importOutput: string;
  /** Out-dir files the clients read (relative path → text), plus k3s-registries.yaml. */
  readonly files: Readonly<Record<string, string>>;
  /** Connecting to the stopped upstream: 'refused' expected. */
  readonly upstreamAfterStop: string;
  readonly containerd: { readonly pulls: readonly Pull[]; readonly images: readonly CtrImage[]; readonly check: Readonly<Record<string, string>> };
  readonly podman: { readonly pulls: readonly (Pull & { readonly image?: PodmanImage })[]; readonly arm64?: Pull & { readonly image?: PodmanImage } };
  /** Requests the mirror answered, by client (its access log's User-Agent), and the repositories asked for. */
  readonly mirrorLog: { readonly containerd: number; readonly podman: number; readonly paths: readonly string[] };
  /** A pull with the mirror stopped too, into empty stores, per client. */
  readonly control: { readonly ctr: readonly Pull[]; readonly podman: readonly Pull[] };
  /** Milliseconds per stage, for the record (never asserted). */
  readonly timings: Readonly<Record<string, number>>;
}

const USER = 'puller';
const PASSWORD = 'mirror-secret-9';
const tail = (s: string): string => s.trim().split('\n').slice(-6).join('\n');

/** Run inside the namespace: everything from the upstream to the pulls; returns the facts. */
export async function pullThroughMirror(v: ClientsVariant): Promise<ScenarioReport> {
  assertInLoopbackNamespace();
  await privateContainersState();
  const work = await mkdtemp(join(tmpdir(), 'airlock-clients-'));
  const cleanups: (() => Promise<void>)[] = [];
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (stage: string): void => {
    const now = Date.now();
    timings[stage] = now - mark;
    mark = now;
  };
  try {
    const ca = await makeTestCa(join(work, 'ca'), { dnsNames: [...SCENARIO_HOSTS] });
    const caOnly = join(work, 'ca-only');
    await mkdir(caOnly);
    await cp(ca.caCert, join(caOnly, 'ca.crt'));

    // Upstream: plain HTTP under its own name, or Docker Hub's API host on 443 with TLS.
    const upstreamReg = await startRegistry(v.dockerHub ? { tls: true, ca, port: 443 } : {});
    cleanups.push(() => upstreamReg.stop());
    const upstream = v.dockerHub ? 'docker.io' : `${UPSTREAM_NAME}:${upstreamReg.port}`;
    const repos = v.dockerHub ? { app: 'library/app', multi: 'acme/multi' } : { app: 'demo/app', multi: 'demo/multi' };
    const seed = [...v.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    const app = await randomImage({ seed, dir: join(work, 'app'), ref: '1.0', layers: 2, size: 4096 });
    const multi = await randomImage({ seed: seed + 1, dir: join(work, 'multi'), ref: '2.0', platforms: ['linux/amd64', 'linux/arm64'] });
    const seedFlags = v.dockerHub ? [`--dest-cert-dir=${caOnly}`] : ['--dest-tls-verify=false'];
    await skopeo(['copy', '--all', '--preserve-digests', ...seedFlags, app.ociRef, `docker://127.0.0.1:${upstreamReg.port}/${repos.app}:1.0`]);
    await skopeo(['copy', '--all', '--preserve-digests', ...seedFlags, multi.ociRef, `docker://127.0.0.1:${upstreamReg.port}/${repos.multi}:2.0`]);
    lap('upstream');

    // Export on the "connected" side, signed.
    const cli = async (args: readonly string[], input?: string): Promise<CliResult> => runCli(args, { timeoutMs: 180_000, ...(input !== undefined ? { input } : {}) });
    const must = async (what: string, r: Promise<CliResult>): Promise<CliResult> => {
      const res = await r;
      if (res.code !== 0) throw new Error(`${what} exited ${res.code}:\n${res.stdout.slice(-2000)}\n${res.stderr.slice(-3000)}`);
      return res;
    };
    await must('keys generate', cli(['keys', 'generate', '--out', join(work, 'dmz')]));
    const mirrorList = join(work, 'mirror.yaml');
    await writeFile(mirrorList, [
      'version: 1',
      'registries:',
      v.dockerHub ? `  docker.io: { certDir: ${JSON.stringify(caOnly)} }` : `  "${upstream}": { tls: plain-http }`,
      'images:',
      `  - ${upstream}/${repos.app}:1.0`,
      `  - ${upstream}/${repos.multi}:2.0`,
      '',
    ].join('\n'));
    const bundle = join(work, 'site.tar');
    await must('bundle export', cli(['bundle', 'export', '-f', mirrorList, '-o', bundle, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache')]));
    lap('export');

    // From here on the upstream is gone: only the mirror can answer.
    await upstreamReg.stop();
    const upstreamAfterStop = await probeTcp(upstreamReg.port);

    const mirrorReg = await startRegistry({
      accessLog: true, ...(v.mirror !== 'http' ? { tls: true, ca } : {}), ...(v.auth ? { auth: 'htpasswd' as const, username: USER, password: PASSWORD } : {}),
    });
    cleanups.push(() => mirrorReg.stop());
    const mirror = `${MIRROR_NAME}:${mirrorReg.port}`;
    const out = join(work, 'out');
    const imported = await cli([
      'bundle', 'import', bundle, '--to', v.prefix ? `${mirror}/${v.prefix}` : mirror, '--layout', v.layout,
      '--verify-key', join(work, 'dmz.pub'), '--state-dir', join(work, 'state'), '--out-dir', out,
      ...(v.mirror === 'tls-ca' ? ['--dest-cert-dir', caOnly] : ['--dest-tls-verify=false']),
      ...(v.auth ? ['--dest-username', USER, '--dest-password-stdin'] : []),
    ], v.auth ? PASSWORD : undefined);
    lap('import');
    const files = await readTree(out, (p) => p === 'k3s-registries.yaml' || p === 'image-map.json' || p.startsWith('registries.conf.d/') || p.startsWith('containerd/') || p.startsWith('containers/'));
    const base = {
      interfaces: networkInterfaces(), upstream, mirror, importCode: imported.code, importOutput: `${imported.stdout.slice(-2000)}\n${imported.stderr.slice(-3000)}`,
      files, upstreamAfterStop, timings,
    };
    if (imported.code !== 0) {
      return { ...base, containerd: { pulls: [], images: [], check: {} }, podman: { pulls: [] }, mirrorLog: { containerd: 0, podman: 0, paths: [] }, control: { ctr: [], podman: [] } };
    }
    const map = JSON.parse(files['image-map.json']!) as { images: { source: string; mirror: string; digest: string }[] };
    const appMirror = map.images.find((i) => i.digest === app.digest)?.mirror;
    if (!appMirror) throw new Error(`image-map.json has no entry for ${app.digest}`);
    // Upstream names by tag and by digest, and one mirrored name as image-map.txt gives it.
    const wanted = [
      { ref: `${upstream}/${repos.app}:1.0`, digest: app.digest },
      { ref: `${upstream}/${repos.app}@${app.digest}`, digest: app.digest },
      { ref: `${upstream}/${repos.multi}:2.0`, digest: multi.digest },
      { ref: `${upstream}/${repos.multi}@${multi.digest}`, digest: multi.digest },
      { ref: appMirror.replace(/:[^:/@]+@/, '@'), digest: app.digest },
    ];

    // containerd: ctr reads the generated tree through --hosts-dir.
    const ctd = await startContainerd();
    cleanups.push(() => ctd.stop());
    const hostsDir = join(out, 'containerd', 'certs.d');
    const user = v.auth ? `${USER}:${PASSWORD}` : undefined;
    const ctrPulls: Pull[] = [];
    for (const w of wanted) {
      const r = await ctd.pull(w.ref, { hostsDir, ...(user ? { user } : {}), allPlatforms: w.digest === multi.digest });
      ctrPulls.push({ ...w, code: r.code, stderr: tail(r.stderr) });
    }
    lap('containerd');
    const images = await ctd.images();
    const check = Object.fromEntries(await ctd.check());

    // podman: the drop-in and certs.d installed as /etc/containers; credentials keyed by the mirror's host.
    const certsD = join(out, 'containers', 'certs.d');
    const podman = await setUpPodman({ registriesConfD: join(out, 'registries.conf.d'), ...(await exists(certsD) ? { certsD } : {}) });
    cleanups.push(() => podman.remove());
    let authfile: string | undefined;
    if (v.auth) {
      authfile = join(work, 'auth.json');
      await writeFile(authfile, JSON.stringify({ auths: { [mirror]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }), { mode: 0o600 });
    }
    const pullOpts = authfile ? { authfile } : {};
    const podmanPulls: (Pull & { image?: PodmanImage })[] = [];
    for (const w of wanted) {
      const r = await podman.pull(w.ref, pullOpts);
      const image = r.code === 0 ? await podman.inspect(w.ref) : undefined;
      podmanPulls.push({ ...w, code: r.code, stderr: tail(r.stderr), ...(image ? { image } : {}) });
    }
    const armStore = await podman.freshStore();
    const armRef = `${upstream}/${repos.multi}:2.0`;
    const armPull = await armStore.pull(armRef, { ...pullOpts, arch: 'arm64' });
    const armImage = armPull.code === 0 ? await armStore.inspect(armRef) : undefined;

    lap('podman');
    const log = await readFile(mirrorReg.logPath, 'utf8');
    const requests = log.split('\n').filter((l) => /"(GET|HEAD) \/v2\//.test(l));
    const mirrorLog = {
      containerd: requests.filter((l) => l.includes('"containerd/')).length,
      podman: requests.filter((l) => l.includes('"containers/')).length,
      paths: [...new Set(requests.map((l) => /"(?:GET|HEAD) (\/v2\/[^ ?]*)/.exec(l)?.[1] ?? '').filter((p) => /\/manifests\//.test(p)))].sort(),
    };

    // Control: nothing but the mirror could have answered. Mirror stopped, empty stores: every pull fails.
    await mirrorReg.stop();
    const control = { ctr: [] as Pull[], podman: [] as Pull[] };
    const emptyPodman = await podman.freshStore();
    // One name each (podman retries a failed pull three times, a second apart).
    const c = await ctd.pull(wanted[1]!.ref, { hostsDir, ...(user ? { user } : {}), namespace: 'control' });
    control.ctr.push({ ...wanted[1]!, code: c.code, stderr: tail(c.stderr) });
    const p = await emptyPodman.pull(wanted[2]!.ref, pullOpts);
    control.podman.push({ ...wanted[2]!, code: p.code, stderr: tail(p.stderr) });
    lap('control');
    return {
      ...base,
      containerd: { pulls: ctrPulls, images, check },
      podman: { pulls: podmanPulls, arm64: { ref: armRef, digest: multi.digest, code: armPull.code, stderr: tail(armPull.stderr), ...(armImage ? { image: armImage } : {}) } },
      mirrorLog,
      control,
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

/** 'refused', 'open', or the error code of a TCP connect to 127.0.0.1:port. */
function probeTcp(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? String(err))));
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch {
    return false;
  }
}

async function readTree(root: string, keep: (rel: string) => boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (keep(relative(root, p))) out[relative(root, p)] = await readFile(p, 'utf8');
    }
  };
  await walk(root);
  return out;
}
