/**
 * Starts a real Docker Distribution registry (`/usr/bin/docker-registry serve CONFIG`, Debian package
 * `docker-registry`) on a free 127.0.0.1 port with its own storage directory, in the variants the
 * tests need: plain HTTP, htpasswd basic auth, TLS with a CA made at test time, mTLS, token auth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  /** skopeo-style flags to reach this registry as a destination or source. */
  skopeoFlags(side: 'src' | 'dest'): string[];
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
export async function makeTestCa(dir?: string): Promise<TestCa> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'airlock-ca-')));
  const certDir = join(d, 'certs.d');
  await mkdir(certDir, { recursive: true });
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
  };
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Airlock Test CA', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await writeFile(join(d, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
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
  const storageDir = join(dir, 'storage');
  await mkdir(storageDir, { recursive: true });
  const tls = Boolean(opts.tls || opts.mtls);
  const ca = tls ? (opts.ca ?? (await makeTestCa(join(dir, 'ca')))) : undefined;
  const username = opts.auth === 'htpasswd' ? (opts.username ?? 'airlock') : undefined;
  const password = opts.auth === 'htpasswd' ? (opts.password ?? 's3cret-pass') : undefined;

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
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
      `  secret: airlock-test-${port}`,
    ];
    if (ca) {
      lines.push('  tls:', `    certificate: ${join(ca.dir, 'server.crt')}`, `    key: ${join(ca.dir, 'server.key')}`);
      if (opts.mtls) lines.push('    clientcas:', `      - ${ca.caCert}`);
    }
    if (opts.auth === 'htpasswd') {
      const htpasswd = join(dir, 'htpasswd');
      await writeFile(htpasswd, `${username}:${bcrypt.hashSync(password!, 8)}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: airlock-test', `    path: ${htpasswd}`);
    } else if (opts.auth === 'token') {
      if (!opts.token) throw new Error('auth: token needs the token option');
      lines.push('auth:', '  token:', `    realm: ${opts.token.realm}`, `    service: ${opts.token.service}`,
        `    issuer: ${opts.token.issuer}`, `    rootcertbundle: ${opts.token.rootCertBundle}`);
    }
    if (opts.extraConfig) lines.push(opts.extraConfig);
    const configPath = join(dir, 'config.yml');
    await writeFile(configPath, `${lines.join('\n')}\n`);
    const child = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    const url = `${ca ? 'https' : 'http'}://127.0.0.1:${port}`;
    try {
      await waitForRegistry(url, child, ca?.caCert, opts.mtls ? ca : undefined, () => stderr);
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
      ...(username ? { username, password: password! } : {}),
      ...(ca ? { ca } : {}),
      skopeoFlags(side) {
        const f: string[] = [];
        if (ca) f.push(`--${side}-cert-dir=${ca.certDir}`);
        else f.push(`--${side}-tls-verify=false`);
        if (username) f.push(`--${side}-creds=${username}:${password}`);
        return f;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
        await rm(dir, { recursive: true, force: true });
      },
    };
    return reg;
  }
  throw new Error(`could not start ${REGISTRY_BIN}: ${String(lastError)}`);
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
