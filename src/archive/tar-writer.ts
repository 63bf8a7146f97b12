import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { AirlockError, SizeMismatchError } from '../errors.js';
import { TAR_END_BYTES, encodeFileHeader, paddingOf, type FileHeaderOptions } from './tar-header.js';

export type EntryBodySource = Buffer | Readable | AsyncIterable<Buffer>;

export interface TarWriter {
  /** Append one regular file. The body must deliver exactly `size` bytes. One entry at a time. */
  addEntry(path: string, size: number, body: EntryBodySource, opts?: FileHeaderOptions): Promise<void>;
  /** Write the end-of-archive marker and end `out`; resolves when `out` has finished. */
  finish(): Promise<void>;
  /** Bytes written to `out` so far. */
  readonly bytesWritten: number;
}

const ZEROS = Buffer.alloc(TAR_END_BYTES);

/**
 * An ordered tar writer: entries are written exactly in call order, with deterministic headers
 * (uid/gid 0, mode 0644, mtime 0 unless given) and `out`'s backpressure respected. Written by
 * hand because node-tar's packer stalls on hard links (docs/ARCHITECTURE.md "tar (node-tar 7.5) and zstd-napi 0.0.13") and cannot take an order.
 */
export function createTarWriter(out: Writable): TarWriter {
  let bytes = 0;
  let busy = false;
  let finished = false;
  let failure: unknown;
  const onError = (err: unknown): void => {
    failure ??= err;
  };
  out.on('error', onError);

  const write = async (chunk: Buffer): Promise<void> => {
    if (failure) throw failure;
    bytes += chunk.length;
    if (!out.write(chunk)) {
      // The stream's own error (ENOSPC, EIO…) says more than "closed": prefer it.
      await drained(out).catch((err: unknown) => {
        throw failure ?? err;
      });
      if (failure) throw failure;
    }
  };

  return {
    get bytesWritten() {
      return bytes;
    },
    async addEntry(path, size, body, opts = {}) {
      if (busy || finished) throw new AirlockError('INTERNAL', `tar writer: entry ${path} added while another is being written or after finish`);
      busy = true;
      try {
        await write(encodeFileHeader(path, size, opts));
        let got = 0;
        if (Buffer.isBuffer(body)) {
          got = body.length;
          if (got !== size) throw new SizeMismatchError(path, size, got, { where: `tar entry ${path}` });
          if (size > 0) await write(body);
        } else {
          for await (const c of body as AsyncIterable<Buffer>) {
            got += c.length;
            if (got > size) throw new SizeMismatchError(path, size, got, { where: `tar entry ${path}` });
            await write(c);
          }
          if (got !== size) throw new SizeMismatchError(path, size, got, { where: `tar entry ${path}` });
        }
        const pad = paddingOf(size);
        if (pad > 0) await write(ZEROS.subarray(0, pad));
      } catch (err) {
        if (!Buffer.isBuffer(body) && typeof (body as Readable).destroy === 'function') (body as Readable).destroy();
        failure ??= err;
        throw err;
      } finally {
        busy = false;
      }
    },
    async finish() {
      if (busy || finished) throw new AirlockError('INTERNAL', 'tar writer: finish() called twice or during an entry');
      finished = true;
      await write(ZEROS);
      const done = once(out, 'finish');
      out.end();
      await done;
      out.off('error', onError);
    },
  };
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) {
      reject(new AirlockError('IO', 'the output stream was closed'));
      return;
    }
    const cleanup = (): void => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (err?: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new AirlockError('IO', 'the output stream was closed'));
    };
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onClose);
  });
}
