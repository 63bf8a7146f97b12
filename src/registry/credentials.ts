import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AirlockError, ioError } from '../errors.js';
import { DOCKER_HUB, normaliseRegistry } from '../reference/index.js';
import type { RegistryHostConfig } from './types.js';

/** Credentials for one registry. `source` says where they came from (a flag, a file), never what they are. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
  /** An OAuth2 refresh token (`identitytoken` in docker config.json; helpers' `<token>` user). */
  readonly identityToken?: string;
  readonly source: string;
}

export interface ResolveCredentialsOptions {
  /** Environment to read REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, HOME, PATH from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The `--authfile` flag when `config.authfile` is a per-registry file that must win over it. */
  readonly fallbackAuthfile?: string;
}

/** The legacy key docker login writes for Docker Hub. */
const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/**
 * Find credentials for `registry`. Order: explicit credentials > per-registry authfile >
 * --authfile > $REGISTRY_AUTH_FILE > $XDG_RUNTIME_DIR/containers/auth.json > ~/.docker/config.json.
 * In each file, `credHelpers[registry]` wins, then `credsStore`, then `auths`; the first file that
 * knows the registry wins (as containers/image does).
 */
export async function resolveCredentials(
  registry: string,
  config: RegistryHostConfig,
  opts: ResolveCredentialsOptions = {},
): Promise<Credentials | undefined> {
  if (config.credentials) return { ...config.credentials, source: 'the command line' };
  const env = opts.env ?? process.env;
  const files: { path: string; explicit: boolean }[] = [];
  if (config.authfile) files.push({ path: config.authfile, explicit: true });
  if (opts.fallbackAuthfile && opts.fallbackAuthfile !== config.authfile) files.push({ path: opts.fallbackAuthfile, explicit: true });
  if (env.REGISTRY_AUTH_FILE) files.push({ path: env.REGISTRY_AUTH_FILE, explicit: false });
  if (env.XDG_RUNTIME_DIR) files.push({ path: join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'), explicit: false });
  const home = env.HOME ?? homedir();
  files.push({ path: join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'), explicit: false });
  for (const f of files) {
    const doc = await readAuthFile(f.path, f.explicit);
    if (!doc) continue;
    const found = await credentialsFromDocument(registry, doc, f.path, env);
    if (found) return found;
  }
  return undefined;
}

interface AuthFileDocument {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

async function readAuthFile(path: string, explicit: boolean): Promise<AuthFileDocument | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // Default locations are optional; a file the user named must exist.
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw ioError(err, 'read the authfile', path);
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as AuthFileDocument;
  } catch (err) {
    throw new AirlockError('USAGE', `the authfile ${path} is not valid JSON`, {
      where: path,
      cause: err,
      hint: 'it must be a docker config.json or containers auth.json: {"auths": {"HOST": {"auth": "base64(user:pass)"}}}',
    });
  }
}

/** `https://index.docker.io/v1/`, `http://host:5000`, `host:5000/v2/` → the normalised registry. */
export function authKeyRegistry(key: string): string {
  const stripped = key.replace(/^[a-z]+:\/\//i, '');
  const slash = stripped.indexOf('/');
  return normaliseRegistry(slash < 0 ? stripped : stripped.slice(0, slash));
}

async function credentialsFromDocument(
  registry: string,
  doc: AuthFileDocument,
  path: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Credentials | undefined> {
  const want = normaliseRegistry(registry);
  const helperKey = Object.keys(doc.credHelpers ?? {}).find((k) => authKeyRegistry(k) === want);
  const helper = helperKey !== undefined ? doc.credHelpers?.[helperKey] : doc.credsStore;
  if (helper) {
    const serverUrl = helperKey ?? (want === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry);
    const fromHelper = await runCredentialHelper(helper, serverUrl, env);
    if (fromHelper) return { ...fromHelper, source: `docker-credential-${helper} (${path})` };
    // docker keeps only a marker in `auths` when a store holds the secret; fall through to real entries
  }
  const auths = doc.auths ?? {};
  // Exact key first, then any spelling that normalises to the same registry.
  const key = registry in auths ? registry : Object.keys(auths).find((k) => authKeyRegistry(k) === want);
  if (key === undefined) return undefined;
  const entry = auths[key] ?? {};
  const source = path;
  if (entry.identitytoken) {
    return { username: entry.username ?? '<token>', password: '', identityToken: entry.identitytoken, source };
  }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new AirlockError('USAGE', `the "auth" entry for ${key} in ${path} is not base64 of user:password`, { where: path });
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password, source };
  return undefined;
}

/**
 * Run `docker-credential-<name> get` with the server URL on stdin
 * (https://github.com/docker/docker-credential-helpers#development). "credentials not found" → undefined.
 */
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Omit<Credentials, 'source'> | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new AirlockError('USAGE', `invalid credential helper name "${name}"`, { hint: 'credHelpers / credsStore name a docker-credential-<name> program' });
  }
  const program = `docker-credential-${name}`;
  // Loaded here: most runs use no credential helper, and child_process costs every run its load.
  const { spawn } = await import('node:child_process');
  const { code, stdout, stderr, spawnError } = await new Promise<{ code: number | null; stdout: string; stderr: string; spawnError?: Error }>((resolve) => {
    const child = spawn(program, ['get'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      if (out.length < 1 << 20) out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString('utf8');
    });
    child.on('error', (e) => resolve({ code: null, stdout: '', stderr: '', spawnError: e }));
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
  });
  if (spawnError) {
    throw new AirlockError('AUTH', `cannot run the credential helper ${program}`, {
      cause: spawnError,
      hint: `install ${program} on PATH, or remove "${name}" from credHelpers/credsStore in your authfile`,
    });
  }
  if (code !== 0) {
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new AirlockError('AUTH', `the credential helper ${program} failed for ${serverUrl} (exit ${code})`, {
      hint: `run \`echo ${serverUrl} | ${program} get\` to see why`,
    });
  }
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
  } catch (err) {
    throw new AirlockError('AUTH', `the credential helper ${program} printed something that is not JSON`, { cause: err });
  }
  if (typeof doc.Secret !== 'string' || doc.Secret === '') return undefined;
  const username = typeof doc.Username === 'string' ? doc.Username : '';
  // A helper reports an identity token with the user name "<token>".
  if (username === '<token>') return { username, password: '', identityToken: doc.Secret };
  return { username, password: doc.Secret };
}
