import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Header } from 'tar/header';
import { AirlockError, ioError } from '../errors.js';
import { isZstdMagic } from './zstd.js';

export type BundleForm = 'dir' | 'tar' | 'tar.zst';

/**
 * What a bundle path holds, by stat and magic bytes, never by extension alone: a directory,
 * a zstd stream (RFC 8878 frame magic) or a tar (a ustar header with a valid checksum).
 */
export async function detectBundleForm(path: string): Promise<BundleForm> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AirlockError('BUNDLE_UNREADABLE', `no bundle at ${path}`, { where: path, hint: 'check the path: a bundle is a .tar.zst, a .tar, a volume or a directory' });
    }
    throw ioError(err, 'read', path);
  }
  if (st.isDirectory()) return 'dir';
  if (!st.isFile()) throw new AirlockError('BUNDLE_UNREADABLE', `${path} is neither a file nor a directory`, { where: path });
  const head = Buffer.alloc(512);
  let got = 0;
  try {
    const fh = await open(path, 'r');
    try {
      got = (await fh.read(head, 0, 512, 0)).bytesRead;
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  if (isZstdMagic(head.subarray(0, got))) return 'tar.zst';
  if (got === 512) {
    try {
      if (new Header(head).cksumValid) return 'tar';
    } catch {
      // not a tar header: fall through
    }
  }
  throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a bundle: neither a tar archive nor zstd-compressed`, {
    where: path,
    hint: 'pass the bundle written by `airlock bundle export` (.tar.zst, .tar, a volume or a directory)',
  });
}

export interface VolumeName {
  /** Everything before `.volNNN`: `out` for `out.vol003.tar.zst`. */
  readonly base: string;
  readonly number: number;
  readonly form: 'tar' | 'tar.zst';
}

const VOLUME_RE = /^(.+)\.vol(\d{3,})\.(tar|tar\.zst)$/;

/** `out.vol003.tar.zst` → { base: 'out', number: 3, form: 'tar.zst' } (directory part ignored). */
export function parseVolumeName(path: string): VolumeName | undefined {
  const m = VOLUME_RE.exec(basename(path));
  if (!m || !m[1] || !m[2]) return undefined;
  const number = Number(m[2]);
  if (!Number.isSafeInteger(number) || number < 1) return undefined;
  return { base: m[1], number, form: m[3] === 'tar' ? 'tar' : 'tar.zst' };
}

/** Volume file name; numbers have at least 3 digits, more when the count needs them, so names sort. */
export function formatVolumeName(base: string, number: number, count: number, form: 'tar' | 'tar.zst'): string {
  const width = Math.max(3, String(count).length);
  return `${base}.vol${String(number).padStart(width, '0')}.${form}`;
}

/** `out.tar.zst` → `out`; `out.tar` → `out`; anything else unchanged. */
export function stripBundleExtension(path: string): string {
  return path.replace(/\.tar\.zst$|\.tar\.zstd$|\.tzst$|\.tar$/, '');
}
