/**
 * Shared pieces of the reliability, hostile-bundle and security suites (issue 11): running the
 * built CLI as a child process, an independent invariant checker over a target registry, a seeded
 * PRNG, and the outcome log that scripts/reliability-report.ts turns into docs/RELIABILITY.md.
 *
 * The invariant checker speaks plain HTTP(S) with node:http, not the project's registry client:
 * it judges that client, so it must not share its bugs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestRegistry } from './registry.js';
import { seedRegistry, type SeedResult } from './fixtures.js';

export const CLI = fileURLToPath(new URL('../../../../bin/airlock.js', import.meta.url));

/** AIRLOCK_SOAK=1 (set by `npm run test:soak`) runs the heavier variants. */
export const SOAK = process.env.AIRLOCK_SOAK === '1';

type T = { after: (fn: () => Promise<unknown> | void) => void };

export { recordOutcome, type Outcome, type OutcomeRecord } from './outcome.js';

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): a failing kill point is replayed from its seed.

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Workspaces and the CLI

export interface Workspace {
  readonly dir: string;
  /** HOME, XDG_* and TMPDIR all point inside `dir`: the CLI writes nowhere else. */
  readonly env: NodeJS.ProcessEnv;
}

export async function workspace(t: T, name = 'rel'): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), `airlock-${name}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return makeWorkspaceEnv(dir);
}

export async function makeWorkspaceEnv(dir: string): Promise<Workspace> {
  for (const sub of ['home', 'cache', 'state', 'config', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_STATE_HOME: join(dir, 'state'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_RUNTIME_DIR: join(dir, 'config'),
    TMPDIR: join(dir, 'tmp'),
    NO_COLOR: '1',
  };
  return { dir, env };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The parsed --json error document, when there is one. */
  readonly errorCode?: string;
}

export interface RunCliOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stdin?: string;
  /** Extra node flags, e.g. --max-old-space-size=96. */
  readonly nodeFlags?: readonly string[];
  /** Kill (SIGKILL) after this long; the test then fails on `signal`. Default 120 s. */
  readonly timeoutMs?: number;
  /** Called with the child as soon as it starts (kill tests). */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** Sees stderr as it arrives (kill tests count lines). */
  readonly onStderr?: (chunk: Buffer) => void;
  /** Wrap in `/usr/bin/time -f %M` and report the peak RSS in KiB. */
  readonly measureRss?: boolean;
}

export function spawnCli(args: readonly string[], opts: RunCliOptions = {}): ChildProcess {
  const node = [...(opts.nodeFlags ?? []), CLI, ...args];
  const [cmd, argv] = opts.measureRss
    ? ['/usr/bin/time', ['-f', 'airlock-peak-rss-kib=%M', process.execPath, ...node]]
    : [process.execPath, node];
  return spawn(cmd, argv, {
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? process.cwd(),
    stdio: [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

export async function runCli(args: readonly string[], opts: RunCliOptions = {}): Promise<CliResult & { peakRssKiB?: number }> {
  const child = spawnCli(args, opts);
  opts.onSpawn?.(child);
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => {
    err.push(c);
    opts.onStderr?.(c);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  const stdout = Buffer.concat(out).toString('utf8');
  let stderr = Buffer.concat(err).toString('utf8');
  let peakRssKiB: number | undefined;
  const m = /airlock-peak-rss-kib=(\d+)\s*$/.exec(stderr);
  if (m) {
    peakRssKiB = Number(m[1]);
    stderr = stderr.slice(0, m.index);
  }
  return { code, signal, stdout, stderr, ...jsonErrorCode(stdout), ...(peakRssKiB !== undefined ? { peakRssKiB } : {}) };
}

function jsonErrorCode(stdout: string): { errorCode?: string } {
  const at = stdout.lastIndexOf('{\n  "version": 1,\n  "error"');
  if (at < 0) return {};
  try {
    const doc = JSON.parse(stdout.slice(at)) as { error?: { code?: unknown } };
    return typeof doc.error?.code === 'string' ? { errorCode: doc.error.code } : {};
  } catch {
    return {};
  }
}

export function describeRun(r: CliResult): string {
  return `exit ${r.code ?? r.signal}${r.errorCode ? ` (${r.errorCode})` : ''}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

// ---------------------------------------------------------------------------------------------
// An upstream with the `small` fixtures, a mirror list, a key pair and a good signed bundle.

export interface World {
  readonly upstream: TestRegistry;
  readonly seeded: SeedResult;
  readonly ws: Workspace;
  readonly mirror: string;
  readonly key: string;
  readonly pub: string;
  /** A second key pair that did not sign anything. */
  readonly otherPub: string;
}

/** The tagged images, indexes and charts of the small profile, as a mirror list for `upstreamHost`. */
export function mirrorYaml(seeded: SeedResult, upstreamHost: string, extra: { tls?: string } = {}): string {
  const tagged = seeded.images.filter((i) => i.tag && (i.kind === 'image' || i.kind === 'index'));
  return [
    'version: 1',
    'defaults:',
    '  referrers: true',
    'registries:',
    `  ${upstreamHost}: { tls: ${extra.tls ?? 'plain-http'} }`,
    'images:',
    ...tagged.map((i) => `  - ${upstreamHost}/${i.repository}:${i.tag}`),
    'charts:',
    ...seeded.images.filter((i) => i.kind === 'chart').map((i) => `  - ref: oci://${upstreamHost}/${i.repository}\n    version: ${i.tag}`),
    '',
  ].join('\n');
}

export async function makeWorld(t: T, upstream: TestRegistry, name = 'world'): Promise<World> {
  const ws = await workspace(t, name);
  const seeded = await seedRegistry(upstream, 'small');
  const mirror = join(ws.dir, 'mirror.yaml');
  await writeFile(mirror, mirrorYaml(seeded, upstream.host));
  for (const k of ['dmz', 'other']) {
    const r = await runCli(['keys', 'generate', '--out', join(ws.dir, k)], { env: ws.env });
    if (r.code !== 0) throw new Error(`keys generate: ${describeRun(r)}`);
  }
  return { upstream, seeded, ws, mirror, key: join(ws.dir, 'dmz.key'), pub: join(ws.dir, 'dmz.pub'), otherPub: join(ws.dir, 'other.pub') };
}

/** `airlock bundle export` of the world's mirror list to `out`; throws on failure. */
export async function exportTo(world: World, out: string, extra: readonly string[] = []): Promise<void> {
  const r = await runCli(['bundle', 'export', '-f', world.mirror, '-o', out, '--sign-key', world.key, '--cache', join(world.ws.dir, 'cache-export'), '--json', ...extra], { env: world.ws.env });
  if (r.code !== 0) throw new Error(`export failed: ${describeRun(r)}`);
}

export function importArgs(world: World, bundle: string, to: string, stateDir: string, extra: readonly string[] = []): string[] {
  return ['bundle', 'import', bundle, '--to', to, '--verify-key', world.pub, '--dest-tls-verify=false',
    '--state-dir', stateDir, '--out-dir', join(stateDir, 'out'), '--json', ...extra];
}

// ---------------------------------------------------------------------------------------------
// The invariant checker: every tag's whole graph is present and digest-correct.

export interface CheckedRegistry {
  /** `repository:tag` → manifest digest, sorted by key. */
  readonly tags: Readonly<Record<string, string>>;
  /** Everything that is wrong; empty when the invariant holds. */
  readonly problems: readonly string[];
  readonly blobsChecked: number;
}

interface Endpoint {
  readonly url: string;
  readonly auth?: string;
  readonly ca?: Buffer;
}

function endpoint(reg: TestRegistry): Endpoint {
  return {
    url: reg.url,
    ...(reg.username ? { auth: `Basic ${Buffer.from(`${reg.username}:${reg.password ?? ''}`).toString('base64')}` } : {}),
    ...(reg.ca ? { ca: readFileSync(reg.ca.caCert) } : {}),
  };
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Got {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly digest: string;
  readonly size: number;
}

/** GET, hashing the body as it streams; `keep` keeps the body (manifests and JSON only). */
function get(ep: Endpoint, path: string, headers: Record<string, string>, keep: boolean, hops = 0): Promise<Got> {
  const url = new URL(path, ep.url);
  const req = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Got>((resolve, reject) => {
    const r = req(url, {
      method: 'GET',
      // Credentials only to the registry itself, never to a redirect target.
      headers: { ...headers, ...(ep.auth && hops === 0 ? { authorization: ep.auth } : {}) },
      ...(ep.ca ? { ca: ep.ca } : {}),
    }, (res: IncomingMessage) => {
      if ((res.statusCode === 307 || res.statusCode === 302) && res.headers.location && hops < 3) {
        res.resume();
        get(ep, res.headers.location, headers, keep, hops + 1).then(resolve, reject);
        return;
      }
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), digest: `sha256:${hash.digest('hex')}`, size }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

async function getJson<J>(ep: Endpoint, path: string): Promise<{ json: J; link?: string }> {
  const g = await get(ep, path, { accept: 'application/json' }, true);
  if (g.status !== 200) throw new Error(`GET ${path}: HTTP ${g.status}`);
  const link = typeof g.headers.link === 'string' ? /<([^>]+)>/.exec(g.headers.link)?.[1] : undefined;
  return { json: JSON.parse(g.body.toString('utf8')) as J, ...(link ? { link } : {}) };
}

export async function listRepositories(reg: TestRegistry): Promise<string[]> {
  const ep = endpoint(reg);
  const out: string[] = [];
  let next: string | undefined = '/v2/_catalog?n=1000';
  while (next) {
    const page: { json: { repositories?: string[] }; link?: string } = await getJson<{ repositories?: string[] }>(ep, next);
    out.push(...(page.json.repositories ?? []));
    next = page.link;
  }
  return out;
}

/**
 * Walk every tag of every repository: the manifest's bytes must hash to the digest the registry
 * names, every child manifest must hash to its descriptor's digest, and every config and layer
 * must be there with its descriptor's digest and size.
 */
export async function checkRegistry(reg: TestRegistry): Promise<CheckedRegistry> {
  const ep = endpoint(reg);
  const problems: string[] = [];
  const tags: Record<string, string> = {};
  let blobsChecked = 0;
  for (const repo of (await listRepositories(reg)).sort()) {
    const list = await getJson<{ tags?: string[] | null }>(ep, `/v2/${repo}/tags/list?n=10000`).catch(() => ({ json: { tags: [] as string[] } }));
    const verified = new Set<string>();
    const checkManifest = async (reference: string, expected: { digest?: string; size?: number }, where: string): Promise<void> => {
      if (expected.digest && verified.has(expected.digest)) return;
      const g = await get(ep, `/v2/${repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, true);
      if (g.status !== 200) {
        problems.push(`${where}: manifest ${reference} missing (HTTP ${g.status})`);
        return;
      }
      const named = g.headers['docker-content-digest'];
      if (expected.digest && g.digest !== expected.digest) problems.push(`${where}: manifest ${reference} hashes to ${g.digest}`);
      if (typeof named === 'string' && named !== g.digest) problems.push(`${where}: manifest ${reference} hashes to ${g.digest}, registry says ${named}`);
      if (expected.size !== undefined && g.size !== expected.size) problems.push(`${where}: manifest ${reference} is ${g.size} bytes, descriptor says ${expected.size}`);
      verified.add(g.digest);
      if (!expected.digest) tags[`${repo}:${reference}`] = g.digest;
      let m: { manifests?: { digest: string; size: number }[]; config?: { digest: string; size: number }; layers?: { digest: string; size: number }[] };
      try {
        m = JSON.parse(g.body.toString('utf8')) as typeof m;
      } catch {
        problems.push(`${where}: manifest ${reference} is not JSON`);
        return;
      }
      for (const child of m.manifests ?? []) await checkManifest(child.digest, child, `${where} → ${child.digest.slice(0, 19)}`);
      for (const blob of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
        if (verified.has(blob.digest)) continue;
        const b = await get(ep, `/v2/${repo}/blobs/${blob.digest}`, {}, false);
        blobsChecked++;
        if (b.status !== 200) problems.push(`${where}: blob ${blob.digest} missing (HTTP ${b.status})`);
        else if (b.digest !== blob.digest || b.size !== blob.size) problems.push(`${where}: blob ${blob.digest} is corrupt (${b.digest}, ${b.size} bytes)`);
        else verified.add(blob.digest);
      }
    };
    for (const tag of (list.json.tags ?? []).sort()) await checkManifest(tag, {}, `${repo}:${tag}`);
  }
  const sorted = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)));
  return { tags: sorted, problems, blobsChecked };
}

/** Sugar: throw with every problem when the invariant does not hold. */
export async function assertRegistrySound(reg: TestRegistry): Promise<CheckedRegistry> {
  const c = await checkRegistry(reg);
  if (c.problems.length > 0) throw new Error(`target invariant broken:\n  ${c.problems.join('\n  ')}`);
  return c;
}

/** Remove everything a registry stores (between runs that must start from an empty target). */
export async function wipeRegistry(reg: TestRegistry): Promise<void> {
  await rm(join(reg.storageDir, 'docker'), { recursive: true, force: true });
}

/** Open file descriptors of a process (Linux /proc), split into sockets and the rest. */
export async function countFds(pid: number | 'self' = 'self'): Promise<{ total: number; sockets: number }> {
  const { readdir, readlink } = await import('node:fs/promises');
  const dir = `/proc/${pid}/fd`;
  let total = 0;
  let sockets = 0;
  for (const fd of await readdir(dir)) {
    const target = await readlink(join(dir, fd)).catch(() => '');
    if (!target) continue;
    total++;
    if (target.startsWith('socket:')) sockets++;
  }
  return { total, sockets };
}
