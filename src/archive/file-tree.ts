import { randomUUID } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AirlockError, abortError, ioError } from '../errors.js';
import { readFileRanges } from './range-reader.js';
import { normalizeEntryPath } from './tar-header.js';
import { indexTar, type TarIndexEntry } from './tar-index.js';
import { createZstdDecompressStream, isZstdMagic } from './zstd.js';

/**
 * The files of an image archive or an OCI layout directory that a vendor or another tool made:
 * untrusted input, read by name and never extracted. A name is a relative path inside the tree;
 * anything that could reach outside it (absolute paths, `..`, links that leave the tree) is
 * refused with UNSAFE_ARCHIVE_ENTRY, and only regular files are ever read.
 */
export interface FileTree {
  /** The archive file or directory, for messages. */
  readonly where: string;
  readonly kind: 'tar' | 'dir';
  /** How the archive file was compressed as a whole (`docker save | gzip`); 'none' for a directory. */
  readonly compression: 'none' | 'gzip' | 'zstd';
  /** Size of the regular file `name` (after links inside a tar), or undefined when there is none. */
  size(name: string): Promise<number | undefined>;
  /** The bytes of `name`, unverified: callers check them against a digest. */
  open(name: string, opts?: { readonly signal?: AbortSignal }): Promise<Readable>;
  /** `name` whole, refused when larger than `max` bytes (metadata files only). */
  read(name: string, max: number): Promise<Buffer>;
  /** The first `n` bytes of `name` (fewer when it is shorter): to tell a compressed layer by its magic. */
  head(name: string, n: number): Promise<Buffer>;
  /** Removes the uncompressed copy a compressed archive was read through. */
  close(): Promise<void>;
}

export interface OpenTarTreeOptions {
  /**
   * Where a compressed archive (.tar.gz, .tar.zst) is uncompressed to, once, to be read by name:
   * it needs about the archive's uncompressed size, until close(). Default: the OS temp dir.
   */
  readonly tempDir?: string;
  readonly signal?: AbortSignal;
}

/** A link may point at a link, this many times at most (as Linux's MAXSYMLINKS-like limit, smaller). */
const MAX_LINK_HOPS = 8;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** Uncompressed copies are named so a later run can tell whose they are (removeStaleUnpacked). */
const UNPACKED_PREFIX = 'unpacked-';

/**
 * A tar file (plain, or gzip- or zstd-compressed as a whole) read in place by name. Regular files
 * are indexed; symbolic and hard links are kept as names only and resolved inside the archive's
 * own names when one is read (the legacy `docker save` layout names a shared layer through a
 * `<id>/layer.tar` symlink): a link whose target is absolute, climbs out of the archive, loops,
 * or ends anywhere but at a regular file of the archive is UNSAFE_ARCHIVE_ENTRY. Devices, FIFOs
 * and unsafe entry names are refused while indexing.
 */
export async function openTarTree(path: string, opts: OpenTarTreeOptions = {}): Promise<FileTree> {
  const compression = await sniffCompression(path);
  let tarPath = path;
  let temp: string | undefined;
  if (compression !== 'none') {
    const dir = opts.tempDir ?? join(tmpdir(), 'airlock-unpacked');
    await mkdir(dir, { recursive: true }).catch((err: unknown) => {
      throw ioError(err, 'create', dir);
    });
    temp = join(dir, `${UNPACKED_PREFIX}${process.pid}-${randomUUID()}.tar`);
    try {
      await pipeline(
        createReadStream(path, { highWaterMark: 1 << 20 }),
        compression === 'gzip' ? createGunzip({ chunkSize: 1 << 20 }) : createZstdDecompressStream(),
        createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }),
        ...(opts.signal ? [{ signal: opts.signal }] : []),
      );
    } catch (err) {
      await rm(temp, { force: true }).catch(() => {});
      if (opts.signal?.aborted) throw abortError(opts.signal);
      if (err instanceof AirlockError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a valid ${compression} stream`, {
          where: path, cause: err, hint: 'the archive is damaged or truncated: copy it again and compare its checksum',
        });
      }
      throw ioError(err, 'uncompress', path);
    }
    tarPath = temp;
  }
  const links = new Map<string, { readonly target: string; readonly hard: boolean }>();
  let files: Map<string, TarIndexEntry>;
  try {
    files = await indexTar(tarPath, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onLink: (name, target, hard) => links.set(name, { target, hard }),
    });
  } catch (err) {
    if (temp) await rm(temp, { force: true }).catch(() => {});
    if (err instanceof AirlockError && err.code === 'BUNDLE_UNREADABLE') {
      // The indexer names the file it read: the uncompressed copy, not what the user gave.
      throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a tar archive${compression !== 'none' ? ` (inside its ${compression} compression)` : ''}: ${err.message}`, {
        where: path, cause: err, hint: 'pass a `docker save` / `skopeo copy ... docker-archive:` or `oci-archive:` tar (optionally .gz)',
      });
    }
    throw err;
  }
  return new TarTree(path, tarPath, compression, files, links, temp);
}

class TarTree implements FileTree {
  readonly kind = 'tar';
  readonly where: string;
  readonly compression: 'none' | 'gzip' | 'zstd';
  readonly #tarPath: string;
  readonly #files: ReadonlyMap<string, TarIndexEntry>;
  readonly #links: ReadonlyMap<string, { readonly target: string; readonly hard: boolean }>;
  readonly #temp: string | undefined;

  constructor(
    where: string, tarPath: string, compression: 'none' | 'gzip' | 'zstd', files: ReadonlyMap<string, TarIndexEntry>,
    links: ReadonlyMap<string, { readonly target: string; readonly hard: boolean }>, temp: string | undefined,
  ) {
    this.where = where;
    this.compression = compression;
    this.#tarPath = tarPath;
    this.#files = files;
    this.#links = links;
    this.#temp = temp;
  }

  async size(name: string): Promise<number | undefined> {
    return this.#entry(name)?.size;
  }

  async open(name: string, opts: { readonly signal?: AbortSignal } = {}): Promise<Readable> {
    const e = this.#entry(name);
    if (!e) throw notFound(this.where, name);
    return readFileRanges(this.#tarPath, [{ offset: e.offset, length: e.size }], opts.signal);
  }

  async read(name: string, max: number): Promise<Buffer> {
    const e = this.#entry(name);
    if (!e) throw notFound(this.where, name);
    if (e.size > max) throw tooLarge(this.where, name, max);
    const chunks: Buffer[] = [];
    for await (const c of readFileRanges(this.#tarPath, [{ offset: e.offset, length: e.size }])) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async head(name: string, n: number): Promise<Buffer> {
    const e = this.#entry(name);
    if (!e) throw notFound(this.where, name);
    const chunks: Buffer[] = [];
    for await (const c of readFileRanges(this.#tarPath, [{ offset: e.offset, length: Math.min(n, e.size) }])) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async close(): Promise<void> {
    if (this.#temp) await rm(this.#temp, { force: true });
  }

  /** The regular file `name` names, through links resolved by name inside the archive only. */
  #entry(name: string): TarIndexEntry | undefined {
    const where = `${this.where}, entry ${name}`;
    let current = normalizeEntryPath(name, false, where);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const file = this.#files.get(current);
      if (file) return file;
      const link = this.#links.get(current);
      if (!link) return undefined;
      current = resolveLinkTarget(current, link.target, link.hard, where);
    }
    throw new AirlockError('UNSAFE_ARCHIVE_ENTRY', `archive entry ${name} is a chain of more than ${MAX_LINK_HOPS} links`, {
      where, hint: 'the archive was altered or made by a broken tool: get a fresh copy',
    });
  }
}

/**
 * Where a link points, as a name of the same archive. A symbolic link is relative to its own
 * directory, a hard link to the archive's root (POSIX tar). Absolute targets and targets that
 * climb above the root are refused: they name files outside the archive.
 */
export function resolveLinkTarget(linkName: string, target: string, hard: boolean, where: string): string {
  const unsafe = (why: string): AirlockError =>
    new AirlockError('UNSAFE_ARCHIVE_ENTRY', `archive link ${linkName} -> ${JSON.stringify(target.slice(0, 200))} ${why}`, {
      where, hint: 'the archive points outside itself: do not use it; get a fresh copy from the vendor',
    });
  if (target === '' || target.includes('\0')) throw unsafe('has no usable target');
  if (target.startsWith('/') || target.includes('\\') || /^[A-Za-z]:/.test(target)) throw unsafe('is absolute');
  const parts = hard ? [] : linkName.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw unsafe('climbs out of the archive');
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  if (parts.length === 0) throw unsafe('names the archive root');
  return parts.join('/');
}

/**
 * An OCI layout directory read by name. The directory itself may be reached through a symlink;
 * inside it, every component of a name must be a real directory and the last a regular file:
 * symlinks are refused (UNSAFE_ARCHIVE_ENTRY), and the file is opened with O_NOFOLLOW so that one
 * swapped in after the check is refused too.
 */
export async function openDirTree(path: string): Promise<FileTree> {
  let root: string;
  try {
    root = await realpath(path);
    if (!(await lstat(root)).isDirectory()) throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a directory`, { where: path, hint: 'an OCI layout is a directory with oci-layout and index.json' });
  } catch (err) {
    if (err instanceof AirlockError) throw err;
    throw ioError(err, 'open', path);
  }
  return new DirTree(path, root);
}

class DirTree implements FileTree {
  readonly kind = 'dir';
  readonly compression = 'none';
  readonly where: string;
  readonly #root: string;

  constructor(where: string, root: string) {
    this.where = where;
    this.#root = root;
  }

  async size(name: string): Promise<number | undefined> {
    const path = await this.#check(name);
    if (!path) return undefined;
    return (await lstat(path)).size;
  }

  async open(name: string, opts: { readonly signal?: AbortSignal } = {}): Promise<Readable> {
    const fh = await this.#openFile(name);
    return createReadStream('', { fd: fh, highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  async read(name: string, max: number): Promise<Buffer> {
    const fh = await this.#openFile(name);
    try {
      const { size } = await fh.stat();
      if (size > max) throw tooLarge(this.where, name, max);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async head(name: string, n: number): Promise<Buffer> {
    const fh = await this.#openFile(name);
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {}

  async #openFile(name: string): Promise<FileHandle> {
    const path = await this.#check(name);
    if (!path) throw notFound(this.where, name);
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw symlinkRefused(this.where, name);
      throw ioError(err, 'open', path);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw notRegular(this.where, name);
    }
    return fh;
  }

  /** The absolute path of `name` when it is a regular file reached through real directories; undefined when absent. */
  async #check(name: string): Promise<string | undefined> {
    const where = `${this.where}/${name}`;
    const parts = normalizeEntryPath(name, false, where).split('/');
    let path = this.#root;
    for (const [i, part] of parts.entries()) {
      path = join(path, part);
      let st;
      try {
        st = await lstat(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw ioError(err, 'read', path);
      }
      if (st.isSymbolicLink()) throw symlinkRefused(this.where, parts.slice(0, i + 1).join('/'));
      const last = i === parts.length - 1;
      if (!last && !st.isDirectory()) return undefined;
      if (last && !st.isFile()) throw notRegular(this.where, name);
    }
    return path;
  }
}

/**
 * Remove uncompressed copies that runs killed before their close() left in `dir`: those whose
 * process is gone. A copy of a run still going is left alone.
 */
export async function removeStaleUnpacked(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = new RegExp(`^${UNPACKED_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true }).catch(() => {});
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sniffCompression(path: string): Promise<'none' | 'gzip' | 'zstd'> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(err, 'open', path);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a file`, { where: path, hint: 'an archive is a .tar or .tar.gz file; an OCI layout directory is `layout:`' });
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    const got = head.subarray(0, bytesRead);
    if (got.length >= 2 && got.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
    if (isZstdMagic(got)) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

function notFound(where: string, name: string): AirlockError {
  return new AirlockError('NOT_FOUND', `${name} is not in ${where}`, { where: `${where}, entry ${name}` });
}

function tooLarge(where: string, name: string, max: number): AirlockError {
  return new AirlockError('MANIFEST_INVALID', `${name} in ${where} is larger than ${max} bytes`, { where: `${where}, entry ${name}`, hint: 'metadata files are small; the archive is damaged or not an image archive' });
}

function symlinkRefused(where: string, name: string): AirlockError {
  return new AirlockError('UNSAFE_ARCHIVE_ENTRY', `${name} in ${where} is a symbolic link`, {
    where: `${where}/${name}`, hint: 'an OCI layout read by airlock holds only real directories and regular files; copy it without links (cp -rL) if you trust it',
  });
}

function notRegular(where: string, name: string): AirlockError {
  return new AirlockError('UNSAFE_ARCHIVE_ENTRY', `${name} in ${where} is not a regular file`, {
    where: `${where}/${name}`, hint: 'devices, FIFOs and sockets are never read',
  });
}
