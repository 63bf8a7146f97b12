import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
