/**
 * Starts a real Docker Distribution registry (`/usr/bin/docker-registry serve CONFIG`, Debian package
 * `docker-registry`) on a free 127.0.0.1 port with its own storage directory, in the variants the
 * tests need: plain HTTP, htpasswd basic auth, TLS with a CA made at test time, mTLS, token auth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

export const REGISTRY_BIN = process.env.AIRLOCK_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface TestCa {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  /** A certs.d-style directory with the CA as ca.crt (and client.cert/client.key when made). */
  readonly certDir: string;
}

export interface StartRegistryOptions {
  /** 'none' (default), 'htpasswd' basic auth, or 'token' (needs `token`). */
  readonly auth?: 'none' | 'htpasswd' | 'token';
  readonly tls?: boolean;
  /** Require client certificates signed by the test CA (implies tls). */
  readonly mtls?: boolean;
  readonly username?: string;
  readonly password?: string;
  /** Token auth settings: realm URL, service, issuer and the PEM certificate bundle that verifies tokens. */
  readonly token?: { readonly realm: string; readonly service: string; readonly issuer: string; readonly rootCertBundle: string };
  /** Reuse a CA (e.g. for two registries trusted by one certs.d dir). */
  readonly ca?: TestCa;
  /** Extra top-level config YAML appended verbatim (e.g. proxy settings). */
  readonly extraConfig?: string;
  /** Listen on this port (e.g. 443 inside a network namespace) instead of a free one. */
  readonly port?: number;
  /** Keep the registry's access log (one line per request, with the client's User-Agent) in `logPath`. */
  readonly accessLog?: boolean;
  /**
   * Serve this storage directory (another instance's) instead of a new one; stop() leaves it.
   * With `secret`, the way Distribution scales out: instances over one storage, one http.secret.
   */
  readonly storageDir?: string;
  /** http.secret (signs upload state): equal across instances that share storage. */
  readonly secret?: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` or `https://…` */
  readonly url: string;
  readonly dir: string;
  readonly storageDir: string;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: TestCa;
  /** The registry's log (errors; every request too with `accessLog`). Removed by stop(). */
  readonly logPath: string;
  /** skopeo-style flags to reach this registry as a destination or source. */
  skopeoFlags(side: 'src' | 'dest'): string[];
  /**
   * Stop the registry process and start it again on the same port, config and storage (a reboot,
   * or a reinstall when the storage was wiped or restored in between).
   */
  restart(): Promise<void>;
  /** `docker-registry garbage-collect` over the storage, with the registry stopped meanwhile. */
  garbageCollect(opts?: { readonly deleteUntagged?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function assertBinary(): void {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(
      `Docker Distribution is not installed (${REGISTRY_BIN} missing). Install it with: ` +
        'sudo apt-get update && sudo apt-get install -y docker-registry skopeo',
    );
  }
}

/** Make a CA plus a server certificate for 127.0.0.1/localhost and a client certificate, with openssl. */
export async function makeTestCa(dir?: string, opts: { dnsNames?: readonly string[] } = {}): Promise<TestCa> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'airlock-ca-')));
  const certDir = join(d, 'certs.d');
  await mkdir(certDir, { recursive: true });
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
  };
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Airlock Test CA', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const names = ['localhost', ...(opts.dnsNames ?? [])].map((n) => `DNS:${n}`).join(',');
  await writeFile(join(d, 'server.ext'), `subjectAltName=IP:127.0.0.1,${names}\nextendedKeyUsage=serverAuth\n`);
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext');
  await writeFile(join(d, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=airlock-test-client', '-keyout', 'client.key', '-out', 'client.csr');
  run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.crt', '-extfile', 'client.ext');
  await copyFile(join(d, 'ca.crt'), join(certDir, 'ca.crt'));
  await copyFile(join(d, 'client.crt'), join(certDir, 'client.cert'));
  await copyFile(join(d, 'client.key'), join(certDir, 'client.key'));
  return { dir: d, caCert: join(d, 'ca.crt'), caKey: join(d, 'ca.key'), certDir };
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  assertBinary();
  const dir = await mkdtemp(join(tmpdir(), 'airlock-registry-'));
  const storageDir = opts.storageDir ?? join(dir, 'storage');
  await mkdir(storageDir, { recursive: true });
  const tls = Boolean(opts.tls || opts.mtls);
  const ca = tls ? (opts.ca ?? (await makeTestCa(join(dir, 'ca')))) : undefined;
  const username = opts.auth === 'htpasswd' ? (opts.username ?? 'airlock') : undefined;
  const password = opts.auth === 'htpasswd' ? (opts.password ?? 's3cret-pass') : undefined;

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? (await freePort());
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      `    disabled: ${opts.accessLog ? 'false' : 'true'}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storageDir}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${opts.secret ?? `airlock-test-${port}`}`,
    ];
    if (ca) {
      lines.push('  tls:', `    certificate: ${join(ca.dir, 'server.crt')}`, `    key: ${join(ca.dir, 'server.key')}`);
      if (opts.mtls) lines.push('    clientcas:', `      - ${ca.caCert}`);
    }
    if (opts.auth === 'htpasswd') {
      const htpasswd = join(dir, 'htpasswd');
      await writeFile(htpasswd, `${username}:${bcrypt.hashSync(password!, 4)}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: airlock-test', `    path: ${htpasswd}`);
    } else if (opts.auth === 'token') {
      if (!opts.token) throw new Error('auth: token needs the token option');
      lines.push('auth:', '  token:', `    realm: ${opts.token.realm}`, `    service: ${opts.token.service}`,
        `    issuer: ${opts.token.issuer}`, `    rootcertbundle: ${opts.token.rootCertBundle}`);
    }
    if (opts.extraConfig) lines.push(opts.extraConfig);
    const configPath = join(dir, 'config.yml');
    await writeFile(configPath, `${lines.join('\n')}\n`);
    // The registry's log goes to a file, not a pipe: a test that blocks its event loop (spawnSync of
    // the CLI) would otherwise stop draining the pipe, and the registry would hang writing to it.
    const logPath = join(dir, `registry-${port}.log`);
    const launch = (): ChildProcess => {
      const logFd = openSync(logPath, 'a');
      const c = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', opts.accessLog ? logFd : 'ignore', logFd] });
      closeSync(logFd);
      return c;
    };
    let child = launch();
    const stderr = (): string => {
      try {
        return readFileSync(logPath, 'utf8').slice(-4000);
      } catch {
        return '';
      }
    };
    const url = `${ca ? 'https' : 'http'}://127.0.0.1:${port}`;
    try {
      await waitForRegistry(url, child, ca?.caCert, opts.mtls ? ca : undefined, stderr);
    } catch (err) {
      child.kill('SIGKILL');
      lastError = err;
      continue;
    }
    const host = `127.0.0.1:${port}`;
    let stopped = false;
    const reg: TestRegistry = {
      host,
      port,
      url,
      dir,
      storageDir,
      tls,
      logPath,
      ...(username ? { username, password: password! } : {}),
      ...(ca ? { ca } : {}),
      skopeoFlags(side) {
        const f: string[] = [];
        if (ca) f.push(`--${side}-cert-dir=${ca.certDir}`);
        else f.push(`--${side}-tls-verify=false`);
        if (username) f.push(`--${side}-creds=${username}:${password}`);
        return f;
      },
      async restart() {
        await halt(child);
        for (let attempt = 0; ; attempt++) {
          child = launch();
          try {
            await waitForRegistry(url, child, ca?.caCert, opts.mtls ? ca : undefined, stderr);
            return;
          } catch (err) {
            // The port may linger a moment after the old process exits.
            child.kill('SIGKILL');
            if (attempt >= 3) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      },
      async garbageCollect(o = {}) {
        await halt(child);
        execFileSync(REGISTRY_BIN, ['garbage-collect', ...(o.deleteUntagged ? ['--delete-untagged'] : []), configPath], { stdio: 'pipe' });
        await this.restart();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await halt(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
    return reg;
  }
  throw new Error(`could not start ${REGISTRY_BIN}: ${String(lastError)}`);
}

function halt(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

async function waitForRegistry(
  url: string,
  child: ChildProcess,
  caCert: string | undefined,
  clientCa: TestCa | undefined,
  stderr: () => string,
): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const ca = caCert ? readFileSync(caCert) : undefined;
  const cert = clientCa ? readFileSync(join(clientCa.dir, 'client.crt')) : undefined;
  const key = clientCa ? readFileSync(join(clientCa.dir, 'client.key')) : undefined;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registry exited with ${child.exitCode}: ${stderr()}`);
    const status = await new Promise<number>((resolve) => {
      const req = (url.startsWith('https') ? httpsRequest : httpRequest)(`${url}/v2/`, { method: 'GET', timeout: 1000, ...(ca ? { ca, cert, key } : {}) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => {
        req.destroy();
        resolve(0);
      });
      req.end();
    });
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`registry at ${url} did not answer /v2/ within 15 s: ${stderr()}`);
}

// ---------------------------------------------------------------------------------------------
// Small test content (images, an index, a Helm chart, an artifact with a subject) and an OCI
// layout writer, so tests seed registries with skopeo and check what clients read back.

import { createHash } from 'node:crypto';

export interface TestBlob {
  readonly desc: { readonly mediaType: string; readonly digest: string; readonly size: number; readonly artifactType?: string; readonly platform?: { os: string; architecture: string } };
  readonly data: Buffer;
}

export interface TestContent {
  /** The root manifest or index. */
  readonly root: TestBlob;
  /** Everything, children before parents (root last). */
  readonly all: readonly TestBlob[];
}

export function testBlob(mediaType: string, data: Buffer): TestBlob {
  return { desc: { mediaType, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length }, data };
}

/** Deterministic pseudo-random bytes for `seed` (no two tests share blobs unless they mean to). */
export function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A one-platform image: config + `layers` layers of `layerSize` bytes. `docker: true` uses schema 2 media types. */
export function testImage(seed: string, o: { layers?: number; layerSize?: number; docker?: boolean; arch?: string } = {}): TestContent {
  const docker = o.docker ?? false;
  const layers = Array.from({ length: o.layers ?? 2 }, (_, i) =>
    testBlob(docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', seededBytes(`${seed}/layer${i}`, o.layerSize ?? 4096)));
  const config = testBlob(docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
    Buffer.from(JSON.stringify({ architecture: o.arch ?? 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', config: { Env: [`SEED=${seed}`] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.desc.digest) } })));
  const mt = docker ? 'application/vnd.docker.distribution.manifest.v2+json' : OCI_MANIFEST;
  const manifest = testBlob(mt, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mt, config: config.desc, layers: layers.map((l) => l.desc) }, null, 2)));
  return { root: manifest, all: [config, ...layers, manifest] };
}

/** A multi-arch index (OCI, or a Docker manifest list with `docker: true`) over amd64 and arm64 images. */
export function testIndex(seed: string, o: { docker?: boolean; layerSize?: number } = {}): TestContent {
  const archs = ['amd64', 'arm64'];
  const images = archs.map((arch) => testImage(`${seed}/${arch}`, { arch, docker: o.docker ?? false, layers: 1, ...(o.layerSize ? { layerSize: o.layerSize } : {}) }));
  const mt = o.docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : OCI_INDEX;
  const index = testBlob(mt, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: mt,
    manifests: images.map((img, i) => ({ ...img.root.desc, platform: { os: 'linux', architecture: archs[i]! } })),
  })));
  return { root: index, all: [...images.flatMap((i) => i.all), index] };
}

/** A Helm chart as Helm 3 pushes it (https://helm.sh/docs/topics/registries/). */
export function testHelmChart(seed: string): TestContent {
  const config = testBlob('application/vnd.cncf.helm.config.v1+json', Buffer.from(JSON.stringify({ name: `chart-${seed}`, version: '1.2.3', apiVersion: 'v2' })));
  const chart = testBlob('application/vnd.cncf.helm.chart.content.v1.tar+gzip', seededBytes(`${seed}/chart`, 2048));
  const manifest = testBlob(OCI_MANIFEST, Buffer.from(JSON.stringify({
    schemaVersion: 2, config: config.desc, layers: [chart.desc], annotations: { 'org.opencontainers.image.title': `chart-${seed}` },
  })));
  return { root: manifest, all: [config, chart, manifest] };
}

/** An OCI 1.1 artifact (artifactType, empty config) whose subject is `subject`. */
export function testArtifact(seed: string, subject: TestBlob, artifactType = 'application/vnd.example.sbom.v1+json'): TestContent {
  const empty = testBlob('application/vnd.oci.empty.v1+json', Buffer.from('{}'));
  const payload = testBlob('application/json', Buffer.from(JSON.stringify({ sbom: seed })));
  const manifest = testBlob(OCI_MANIFEST, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: empty.desc, layers: [payload.desc],
    subject: subject.desc, annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  })));
  return { root: { ...manifest, desc: { ...manifest.desc, artifactType } }, all: [empty, payload, manifest] };
}

/** Write an OCI image layout with `entries` tagged by name (org.opencontainers.image.ref.name). */
export async function writeOciLayout(dir: string, entries: readonly { readonly tag: string; readonly content: TestContent }[]): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const e of entries) {
    for (const b of e.content.all) await writeFile(join(blobs, b.desc.digest.slice(7)), b.data);
  }
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: OCI_INDEX,
    manifests: entries.map((e) => ({ mediaType: e.content.root.desc.mediaType, digest: e.content.root.desc.digest, size: e.content.root.desc.size, annotations: { 'org.opencontainers.image.ref.name': e.tag } })),
  }));
  return dir;
}

export interface RegistryCluster {
  /** The instances, each on its own 127.0.0.1 port, all serving `storageDir`. */
  readonly instances: readonly TestRegistry[];
  readonly storageDir: string;
  stop(): Promise<void>;
}

/**
 * Distribution scaled out as its documentation describes ("Load balancing considerations"): several
 * instances with the same filesystem `rootdirectory` and the same `http.secret`, so an upload
 * started on one instance could be finished on another. No blob descriptor cache is configured
 * (none is the default), so no instance answers from stale memory what another has since stored.
 */
export async function startRegistryCluster(count: number, opts: Omit<StartRegistryOptions, 'storageDir' | 'secret' | 'port'> = {}): Promise<RegistryCluster> {
  const root = await mkdtemp(join(tmpdir(), 'airlock-cluster-'));
  const storageDir = join(root, 'storage');
  const secret = `airlock-cluster-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const instances: TestRegistry[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startRegistry({ ...opts, storageDir, secret, ...(instances[0]?.ca ? { ca: instances[0].ca } : {}) }));
  } catch (err) {
    await Promise.all(instances.map((r) => r.stop()));
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    instances,
    storageDir,
    async stop() {
      await Promise.all(instances.map((r) => r.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
