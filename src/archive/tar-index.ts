import { open, type FileHandle } from 'node:fs/promises';
import { AirlockError, abortError, ioError } from '../errors.js';
import { BLOCK_SIZE, TarHeaderDecoder, paddingOf } from './tar-header.js';

export interface TarIndexEntry {
  /** Offset of the entry's first data byte in the file. */
  readonly offset: number;
  readonly size: number;
}

export interface IndexTarOptions {
  readonly signal?: AbortSignal;
  /**
   * Hands over link entries (path, target as written, hard or symbolic) instead of refusing them;
   * they are not in the returned index. For file-tree.ts, which resolves them by name only.
   */
  readonly onLink?: (path: string, target: string, hard: boolean) => void;
}

const WINDOW = 64 * 1024;

/**
 * Entry path → data range of an uncompressed tar file, for random access (as oras-go's tarfs
 * does). Reads headers only and seeks past bodies; applies the same entry policy as
 * readTarEntries (regular files only, safe unique paths).
 */
export async function indexTar(path: string, opts: IndexTarOptions = {}): Promise<Map<string, TarIndexEntry>> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(err, 'open', path);
  }
  try {
    const { size: fileSize } = await fh.stat();
    const reader = new WindowReader(fh, fileSize, path);
    const decoder = new TarHeaderDecoder(path, { links: opts.onLink !== undefined });
    const index = new Map<string, TarIndexEntry>();
    const truncated = (what: string, at: number): AirlockError =>
      new AirlockError('BUNDLE_UNREADABLE', `the archive is truncated: it ends inside ${what}`, {
        where: `${path} at byte ${at}`,
        hint: 'the file is incomplete (an interrupted copy?): copy it again and check it against checksums.txt',
      });
    let pos = 0;
    for (;;) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      if (pos + BLOCK_SIZE > fileSize) throw truncated(pos === fileSize ? 'the archive (no end-of-archive marker)' : 'a tar header', pos);
      const step = decoder.header(await reader.read(pos, BLOCK_SIZE), pos);
      if (step.kind === 'end') return index;
      const size = step.kind === 'file' || step.kind === 'meta' || step.kind === 'skip' ? step.size : 0;
      const dataAt = pos + BLOCK_SIZE;
      if (dataAt + size > fileSize) throw truncated(step.kind === 'file' ? `entry ${step.path}` : 'an entry', pos);
      if (step.kind === 'meta') decoder.meta(await reader.read(dataAt, size), pos);
      if (step.kind === 'file') index.set(step.path, { offset: dataAt, size });
      if (step.kind === 'link') opts.onLink?.(step.path, step.target, step.hard);
      pos = dataAt + size + paddingOf(size);
    }
  } finally {
    await fh.close();
  }
}

/** Positional reads through a small window, so runs of small entries cost one read, not one per header. */
class WindowReader {
  readonly #fh: FileHandle;
  readonly #size: number;
  readonly #path: string;
  #buf = Buffer.alloc(0);
  #start = 0;

  constructor(fh: FileHandle, size: number, path: string) {
    this.#fh = fh;
    this.#size = size;
    this.#path = path;
  }

  async read(pos: number, n: number): Promise<Buffer> {
    if (pos >= this.#start && pos + n <= this.#start + this.#buf.length) {
      return this.#buf.subarray(pos - this.#start, pos - this.#start + n);
    }
    const len = Math.min(Math.max(n, WINDOW), this.#size - pos);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.#fh.read(buf, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.#buf = buf.subarray(0, got);
    this.#start = pos;
    if (got < n) throw new AirlockError('BUNDLE_UNREADABLE', 'the archive changed while it was read', { where: this.#path });
    return this.#buf.subarray(0, n);
  }
}
