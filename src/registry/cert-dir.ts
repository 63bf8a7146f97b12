import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { AirlockError, ioError } from '../errors.js';

export interface CertDirContents {
  /** CA certificates (PEM) from `*.crt`, added to the system store. */
  readonly ca: Buffer[];
  /** Client certificate (PEM) from `*.cert`, for mTLS. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * Read a docker `certs.d`-style directory (https://docs.docker.com/engine/security/certificates/):
 * `*.crt` are CA certificates, `NAME.cert` + `NAME.key` is a client certificate pair.
 */
export async function loadCertDir(dir: string): Promise<CertDirContents> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw ioError(err, 'read the certificate directory', dir);
  }
  const ca: Buffer[] = [];
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  for (const name of names) {
    const path = join(dir, name);
    if (name.endsWith('.crt')) {
      ca.push(await read(path));
    } else if (name.endsWith('.cert') && cert === undefined) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!names.includes(keyName)) {
        throw new AirlockError('USAGE', `client certificate ${path} has no matching key ${keyName}`, {
          where: dir,
          hint: 'a certs.d directory holds NAME.cert together with NAME.key',
        });
      }
      cert = await read(path);
      key = await read(join(dir, keyName));
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!names.includes(certName)) {
        throw new AirlockError('USAGE', `key ${path} has no matching client certificate ${certName}`, {
          where: dir,
          hint: 'a certs.d directory holds NAME.cert together with NAME.key',
        });
      }
    }
  }
  return { ca, ...(cert && key ? { cert, key } : {}) };
}

async function read(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw ioError(err, 'read', path);
  }
}

/** Replaces the default certs.d roots (colon-separated), for tests and unusual layouts. */
export const CERTS_D_ENV = 'AIRLOCK_CERTS_D';

/**
 * Where podman, skopeo and buildah look for a registry's certificates when none is named
 * (containers-certs.d(5); containers/image's dockerCertDir): `$XDG_CONFIG_HOME/containers/certs.d`
 * (~/.config), `/etc/containers/certs.d`, then docker's `/etc/docker/certs.d`.
 */
export function defaultCertDirRoots(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const override = env[CERTS_D_ENV];
  if (override !== undefined) return override.split(':').filter((p) => p.length > 0);
  const home = env.HOME ?? homedir();
  return [join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'certs.d'), '/etc/containers/certs.d', '/etc/docker/certs.d'];
}

/** The first `ROOT/HOST[:PORT]` directory that exists, as containers/image picks it; undefined when none does. */
export async function findDefaultCertDir(registry: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string | undefined> {
  if (registry.includes('/') || registry.startsWith('.')) return undefined;
  for (const root of defaultCertDirRoots(env)) {
    const dir = join(root, registry);
    try {
      if ((await stat(dir)).isDirectory()) return dir;
    } catch {
      // absent or unreadable: try the next root
    }
  }
  return undefined;
}

/**
 * One TLS context for every connection to the registry, made once from its certs.d directory.
 * Given `ca`, `cert` and `key` as connect options instead, Node builds a new context for each
 * connection (tls.connect → createSecureContext), parsing the ~140 system roots plus the site's
 * CA every time: that made `--dest-cert-dir` imports several times slower than imports without it.
 */
export function certDirContext(dir: CertDirContents, where = 'the certificate directory'): SecureContext | undefined {
  if (dir.ca.length === 0 && !(dir.cert && dir.key)) return undefined;
  try {
    return createSecureContext({
      // `ca` replaces the system store (docs/ARCHITECTURE.md "undici 7"); keep both.
      ...(dir.ca.length > 0 ? { ca: [...rootCertificates, ...dir.ca.map((b) => b.toString('utf8'))] } : {}),
      ...(dir.cert && dir.key ? { cert: dir.cert, key: dir.key } : {}),
    });
  } catch (err) {
    throw new AirlockError('USAGE', `cannot use the certificates in ${where}: ${(err as Error).message}`, {
      where, hint: 'a certs.d directory holds PEM files: CA certificates as *.crt, a client certificate as NAME.cert with its key as NAME.key',
    });
  }
}
