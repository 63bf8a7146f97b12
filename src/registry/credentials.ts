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
  /**
   * Credentials the command line scoped to this registry (`--src-creds HOST=USER:PASS`): after
   * the per-registry `creds` and `authfile` of the mirror list, before the authfiles.
   */
  readonly fallbackCredentials?: Credentials;
  /**
   * The repository the credentials are for: authfile keys scoped to a namespace (`quay.io/org`,
   * containers-auth.json(5)) match only repositories under it, the longest match winning. Without
   * one only host keys match.
   */
  readonly repository?: string;
}

/** The legacy key docker login writes for Docker Hub. */
const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/**
 * Find credentials for `registry`. Order: explicit credentials (a flag for this registry, the
 * mirror list's `creds`) > per-registry authfile > credentials scoped to it on the command line >
 * --authfile, then the containers-auth.json(5) search: $REGISTRY_AUTH_FILE alone when set, else
 * $XDG_RUNTIME_DIR/containers/auth.json, $XDG_CONFIG_HOME/containers/auth.json (~/.config),
 * $DOCKER_CONFIG/config.json (~/.docker/config.json), ~/.dockercfg. In each file,
 * `credHelpers[registry]` wins, then `credsStore`, then `auths` (a namespace key `host/org` before
 * the host's, longest first); the first file that knows the registry wins (as containers/image does).
 */
export async function resolveCredentials(
  registry: string,
  config: RegistryHostConfig,
  opts: ResolveCredentialsOptions = {},
): Promise<Credentials | undefined> {
  if (config.credentials) return { source: 'the command line', ...config.credentials };
  const env = opts.env ?? process.env;
  const search = async (files: readonly { path: string; explicit: boolean; legacy?: boolean }[]): Promise<Credentials | undefined> => {
    for (const f of files) {
      const doc = await readAuthFile(f.path, f.explicit, f.legacy === true);
      if (!doc) continue;
      const found = await credentialsFromDocument(registry, opts.repository, doc, f.path, env);
      if (found) return found;
    }
    return undefined;
  };
  if (config.authfile) {
    const found = await search([{ path: config.authfile, explicit: true }]);
    if (found) return found;
  }
  if (opts.fallbackCredentials) return opts.fallbackCredentials;
  const files: { path: string; explicit: boolean; legacy?: boolean }[] = [];
  if (opts.fallbackAuthfile && opts.fallbackAuthfile !== config.authfile) files.push({ path: opts.fallbackAuthfile, explicit: true });
  files.push(...defaultAuthFiles(env));
  return search(files);
}

/** containers-auth.json(5): where credentials are looked for when no file is named. */
export function defaultAuthFiles(env: Readonly<Record<string, string | undefined>>): { path: string; explicit: false; legacy?: boolean }[] {
  // REGISTRY_AUTH_FILE replaces the search: "the default location is overridden".
  if (env.REGISTRY_AUTH_FILE) return [{ path: env.REGISTRY_AUTH_FILE, explicit: false }];
  const home = env.HOME ?? homedir();
  const files: { path: string; explicit: false; legacy?: boolean }[] = [];
  if (env.XDG_RUNTIME_DIR) files.push({ path: join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'), explicit: false });
  files.push({ path: join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json'), explicit: false });
  files.push({ path: join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'), explicit: false });
  files.push({ path: join(home, '.dockercfg'), explicit: false, legacy: true });
  return files;
}

interface AuthFileDocument {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

async function readAuthFile(path: string, explicit: boolean, legacy: boolean): Promise<AuthFileDocument | undefined> {
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
    // ~/.dockercfg (docker before 1.7): the `auths` map alone, at the top level.
    return legacy ? { auths: doc as AuthFileDocument['auths'] } : (doc as AuthFileDocument);
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

/**
 * The `auths` key for `registry` (and `repository`): a key naming a namespace (`host/org`,
 * `host/org/team`) matches repositories at or under it, the longest first; then a host key (any
 * spelling: `https://host/v1/`, `host`).
 */
function authsKeyFor(auths: Readonly<Record<string, unknown>>, registry: string, repository: string | undefined): string | undefined {
  const want = normaliseRegistry(registry);
  let namespaced: { key: string; length: number } | undefined;
  const hostKeys: string[] = [];
  for (const key of Object.keys(auths)) {
    const slash = key.indexOf('/');
    // A URL (`https://index.docker.io/v1/`) or a bare host names the whole registry.
    if (/^[a-z]+:\/\//i.test(key) || slash < 0) {
      if (authKeyRegistry(key) === want) hostKeys.push(key);
      continue;
    }
    if (repository === undefined || normaliseRegistry(key.slice(0, slash)) !== want) continue;
    const namespace = key.slice(slash + 1).replace(/\/+$/, '');
    if (namespace === '' || !(repository === namespace || repository.startsWith(`${namespace}/`))) continue;
    if (!namespaced || namespace.length > namespaced.length) namespaced = { key, length: namespace.length };
  }
  if (namespaced) return namespaced.key;
  // Exact spelling first, then any that normalises to the same registry.
  return hostKeys.includes(registry) ? registry : hostKeys[0];
}

async function credentialsFromDocument(
  registry: string,
  repository: string | undefined,
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
  const key = authsKeyFor(auths, registry, repository);
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
