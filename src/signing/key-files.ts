import { randomUUID } from 'node:crypto';
import { link, lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirlockError, ioError } from '../errors.js';
import type { KeyPairPem } from './keys.js';

export interface WriteKeyPairOptions {
  /** Replace existing PREFIX.key / PREFIX.pub. Default false: refuse. */
  readonly force?: boolean;
}

export interface KeyPairPaths {
  readonly keyPath: string;
  readonly pubPath: string;
}

/**
 * Write PREFIX.key (mode 0600) and PREFIX.pub (mode 0644). Each file is written whole under a
 * temporary name created with its final mode (the private key is never readable by others, not
 * even for an instant), then moved into place: `link` when not forcing, so a file that appeared
 * meanwhile is still never overwritten; `rename` with force.
 */
export async function writeKeyPair(prefix: string, pair: KeyPairPem, opts: WriteKeyPairOptions = {}): Promise<KeyPairPaths> {
  const keyPath = `${prefix}.key`;
  const pubPath = `${prefix}.pub`;
  if (!opts.force) {
    for (const p of [keyPath, pubPath]) {
      if (await exists(p)) {
        throw new AirlockError('USAGE', `${p} already exists`, {
          where: p,
          hint: 'choose another --out prefix, or pass --force to replace the key pair',
        });
      }
    }
  }
  await writeNew(keyPath, pair.privatePem, 0o600, opts.force === true);
  try {
    await writeNew(pubPath, pair.publicPem, 0o644, opts.force === true);
  } catch (err) {
    // Leave no orphaned private key whose public half was never written.
    await rm(keyPath, { force: true }).catch(() => {});
    throw err;
  }
  return { keyPath, pubPath };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(err, 'inspect', path);
  }
}

async function writeNew(path: string, data: string, mode: number, replace: boolean): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      // The umask may have taken bits away from `mode`; set exactly what was asked for.
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (replace) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await rm(tmp, { force: true });
    }
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && !replace) {
      throw new AirlockError('USAGE', `${path} already exists`, {
        where: path,
        hint: 'choose another --out prefix, or pass --force to replace the key pair',
      });
    }
    throw ioError(err, 'write', path);
  }
}
