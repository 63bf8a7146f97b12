import { Header, type HeaderData } from 'tar/header';
import { Pax } from 'tar/pax';
import { AirlockError } from '../errors.js';

/**
 * Tar headers, encoded and decoded with node-tar's `Header` and `Pax` classes; the entry-type
 * policy and the stream handling around them are ours (docs/ARCHITECTURE.md "tar (node-tar 7.5) and zstd-napi 0.0.13": its
 * packer stalls on hard links and its extractor follows symlink pairs, so neither is used).
 * Format: POSIX.1-2001 ustar + pax, https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html
 */
export const BLOCK_SIZE = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);
/** ustar's 12-byte octal size field holds at most 8^11 - 1; larger sizes need a pax `size` record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
/** Caps on metadata entries (pax records, GNU long names) read into memory. */
const MAX_PAX_BYTES = 1024 * 1024;
const MAX_LONGNAME_BYTES = 64 * 1024;

export function paddingOf(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

/** Bytes a regular-file entry occupies in a tar written by `encodeFileHeader`, headers and padding included. */
export function tarEntryBytes(path: string, size: number): number {
  return encodedHeaderBytes(path, size) + size + paddingOf(size);
}

/** Bytes of the end-of-archive marker: two zero blocks. */
export const TAR_END_BYTES = 2 * BLOCK_SIZE;

function encodedHeaderBytes(path: string, size: number): number {
  if (size <= MAX_OCTAL_SIZE && Buffer.byteLength(path) < 100) return BLOCK_SIZE;
  return encodeFileHeader(path, size).length;
}

export interface FileHeaderOptions {
  /** Permission bits. Default 0o644. */
  readonly mode?: number;
  /** Seconds since the epoch. Default 0, so that equal inputs give equal archives. */
  readonly mtime?: number;
}

/** A deterministic header for a regular file: uid/gid 0, empty user names, pax record only when needed. */
export function encodeFileHeader(path: string, size: number, opts: FileHeaderOptions = {}): Buffer {
  const mtime = new Date((opts.mtime ?? 0) * 1000);
  const header = new Header({
    path, size, mode: opts.mode ?? 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime, type: 'File',
  });
  const block = Buffer.alloc(BLOCK_SIZE);
  const needPax = header.encode(block, 0);
  if (!needPax) return block;
  // Long path or size ≥ 8 GiB: a pax extended header carries the exact values; the ustar fields
  // keep a truncated path / base-256 size for readers that ignore pax.
  const pax = new Pax({ path, size, mtime }).encode();
  return Buffer.concat([pax, block]);
}

export type TarStep =
  | { readonly kind: 'end' }
  | { readonly kind: 'skip'; readonly size: number }
  | { readonly kind: 'meta'; readonly size: number }
  | { readonly kind: 'file'; readonly path: string; readonly size: number }
  | { readonly kind: 'link'; readonly path: string; readonly target: string; readonly hard: boolean };

export interface TarHeaderDecoderOptions {
  /**
   * Symbolic and hard links come out as 'link' steps (their target as written, never looked up
   * on disk) instead of being refused. Only for archives read in place by name, whose reader
   * resolves a link inside the archive's own names (archive/file-tree.ts); a bundle has none.
   */
  readonly links?: boolean;
}

/**
 * The header state machine shared by the streaming reader and the indexer. Only regular files
 * come out (and links, when asked for); directories are skipped; pax and GNU long-name records
 * are applied to the next entry; every other type (devices, FIFOs, sparse or multi-volume GNU
 * entries, and links unless asked for) is refused.
 */
export class TarHeaderDecoder {
  readonly #where: string;
  readonly #links: boolean;
  readonly #seen = new Set<string>();
  #ex: HeaderData | undefined;
  #longName: string | undefined;
  #meta: 'x' | 'L' | undefined;

  constructor(where: string, opts: TarHeaderDecoderOptions = {}) {
    this.#where = where;
    this.#links = opts.links ?? false;
  }

  header(block: Buffer, offset: number): TarStep {
    if (block.equals(ZERO_BLOCK)) {
      if (this.#ex || this.#longName !== undefined) throw this.#unreadable('an extended header is not followed by an entry', offset);
      return { kind: 'end' };
    }
    let h: Header;
    try {
      h = new Header(block, 0, this.#ex);
    } catch (err) {
      throw this.#unreadable('a tar header cannot be decoded', offset, err);
    }
    if (!h.cksumValid) throw this.#unreadable('bad tar header checksum (not a tar archive, or damaged)', offset);
    const type = h.typeKey;
    const size = h.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw this.#unreadable('a tar header has an invalid size', offset);
    switch (type) {
      case 'x':
      case 'L':
        if ((type === 'x' && this.#ex) || (type === 'L' && this.#longName !== undefined)) {
          throw this.#unreadable('two extended headers of the same kind in a row', offset);
        }
        if (size > (type === 'x' ? MAX_PAX_BYTES : MAX_LONGNAME_BYTES)) throw this.#unreadable('an extended header is too large', offset);
        this.#meta = type;
        return { kind: 'meta', size };
      case 'g':
        // Global pax records only carry defaults (times, owners) that a bundle reader ignores.
        if (size > MAX_PAX_BYTES) throw this.#unreadable('a global pax header is too large', offset);
        return { kind: 'skip', size };
      case '5': {
        this.#path(h, offset, true);
        return { kind: 'skip', size: 0 };
      }
      case '0':
      case '7': {
        const path = this.#path(h, offset, false);
        this.#once(path);
        return { kind: 'file', path, size };
      }
      case '1':
      case '2': {
        if (!this.#links) break;
        // A pax `linkpath` replaces the ustar field, as a pax `path` replaces the name.
        const target = this.#ex?.linkpath ?? h.linkpath ?? '';
        const path = this.#path(h, offset, false);
        this.#once(path);
        if (size !== 0) throw this.#unreadable('a link entry has data', offset);
        return { kind: 'link', path, target, hard: type === '1' };
      }
      default:
        break;
    }
    const path = this.#longName ?? h.path ?? '';
    throw new AirlockError('UNSAFE_ARCHIVE_ENTRY', `archive entry ${JSON.stringify(path.slice(0, 200))} is a ${h.type === 'Unsupported' ? `entry of unknown type ${JSON.stringify(block.subarray(156, 157).toString('latin1'))}` : h.type}, not a regular file`, {
      where: `${this.#where} at byte ${offset}`,
      hint: 'a bundle holds only regular files; links, devices and FIFOs are refused: get a fresh copy of the bundle',
    });
  }

  #once(path: string): void {
    if (this.#seen.has(path)) {
      throw new AirlockError('UNSAFE_ARCHIVE_ENTRY', `duplicate archive entry ${path}`, {
        where: `${this.#where}, entry ${path}`,
        hint: 'a bundle holds each entry once; this archive was altered: get a fresh copy',
      });
    }
    this.#seen.add(path);
  }

  /** The body of the last 'meta' step. */
  meta(body: Buffer, offset: number): void {
    if (this.#meta === 'x') {
      const parsed = Pax.parse(body.toString('utf8'), this.#ex);
      const ex: HeaderData = {};
      if (parsed.path !== undefined) ex.path = parsed.path;
      if (parsed.linkpath !== undefined) ex.linkpath = parsed.linkpath;
      if (parsed.size !== undefined) {
        if (!Number.isSafeInteger(parsed.size)) throw this.#unreadable('a pax header has an invalid size', offset);
        ex.size = parsed.size;
      }
      this.#ex = ex;
    } else if (this.#meta === 'L') {
      this.#longName = body.toString('utf8').replace(/\0+$/, '');
    }
    this.#meta = undefined;
  }

  #path(h: Header, offset: number, dir: boolean): string {
    // A pax `path` is the whole name (POSIX pax: it replaces name and prefix); node-tar's Header
    // would put the ustar prefix in front of it again.
    const raw = this.#longName ?? this.#ex?.path ?? h.path ?? '';
    this.#longName = undefined;
    this.#ex = undefined;
    return normalizeEntryPath(raw, dir, `${this.#where} at byte ${offset}`);
  }

  #unreadable(what: string, offset: number, cause?: unknown): AirlockError {
    return new AirlockError('BUNDLE_UNREADABLE', what, {
      where: `${this.#where} at byte ${offset}`,
      hint: 'the file is damaged or is not an airlock bundle: copy it again and check it against checksums.txt',
      ...(cause !== undefined ? { cause } : {}),
    });
  }
}

/**
 * `./a//b` → `a/b`. Refuses what could escape or be read two ways: absolute paths, `..`,
 * NUL, backslashes and drive letters.
 */
export function normalizeEntryPath(raw: string, allowEmpty: boolean, where: string): string {
  const unsafe = (why: string): AirlockError =>
    new AirlockError('UNSAFE_ARCHIVE_ENTRY', `archive entry ${JSON.stringify(raw.slice(0, 200))} ${why}`, {
      where,
      hint: 'the archive was made to write outside its directory; do not use it, get a fresh copy of the bundle',
    });
  if (raw.includes('\0')) throw unsafe('contains a NUL byte');
  if (raw.startsWith('/')) throw unsafe('is an absolute path');
  if (raw.includes('\\') || /^[A-Za-z]:/.test(raw)) throw unsafe('contains a backslash or a drive letter');
  const parts: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw unsafe('contains a ".." component');
    parts.push(p);
  }
  if (parts.length === 0 && !allowEmpty) throw unsafe('has an empty name');
  return parts.join('/');
}
