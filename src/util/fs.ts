import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { ioError } from '../errors.js';

/** Write `data` to `path` through a temporary sibling and rename it into place when whole. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(err, 'write', path);
  }
}

/**
 * As writeFileAtomic, but a file that already holds exactly `data` (a regular file, not a link,
 * with no wider permissions than `mode`) is left as it is: no temporary file, no fsync, no rename.
 * For outputs that a re-run writes again unchanged (a no-op re-import's mirror configs). Returns
 * whether it wrote.
 */
export async function writeFileAtomicIfChanged(path: string, data: string | Uint8Array, mode = 0o644): Promise<boolean> {
  if (await holds(path, typeof data === 'string' ? Buffer.from(data) : data, mode)) return false;
  await writeFileAtomic(path, data, mode);
  return true;
}

async function holds(path: string, data: Uint8Array, mode: number): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== data.byteLength || (st.mode & 0o777 & ~mode) !== 0) return false;
    return Buffer.from(await fh.readFile()).equals(data);
  } catch {
    return false;
  } finally {
    await fh.close().catch(() => {});
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
