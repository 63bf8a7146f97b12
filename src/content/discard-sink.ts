import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAirlockError, type AirlockError } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import type { BlobPieceRef, CallOptions, CheckingSink, ContentSink, PieceSink } from './types.js';
import { isVerifiedFor, verifyStream } from './verify-stream.js';

export interface DiscardSinkOptions {
  /** Content known good already (a bundle's front, verified as it was read): reported present, so never sent. */
  readonly holds?: Iterable<Digest>;
  /**
   * A whole blob whose bytes are to be kept after all: the file to write them to as they pass
   * (mode 0600, its folder made). Undefined: nowhere. verify --upstream keeps signed release files
   * this way, to check their vendor signatures once the bundle has been read.
   */
  readonly keep?: (desc: Descriptor) => string | undefined;
}

/**
 * `verify` is a copy to nowhere: every byte passes through verifyStream and is dropped. Bytes
 * that do not match their descriptor are a finding, not a failure: the push records the size or
 * digest mismatch in `problems` and resolves, so the engine goes on and one run reports every
 * damaged blob and piece (any other error, a read that fails, still rejects). Takes the pieces of
 * cut blobs on their own (PieceSink), each checked against its own digest.
 */
export class DiscardSink implements ContentSink, PieceSink, CheckingSink {
  /** Size and digest mismatches, in the order the pushes ended. */
  readonly problems: AirlockError[] = [];
  /** Blobs and pieces whose bytes matched, and their bytes. */
  blobs = 0;
  bytes = 0;
  readonly #holds: ReadonlySet<Digest>;
  readonly #keep: ((desc: Descriptor) => string | undefined) | undefined;
  readonly #kept = new Map<Digest, string>();

  constructor(opts: DiscardSinkOptions = {}) {
    this.#holds = new Set(opts.holds ?? []);
    this.#keep = opts.keep;
  }

  /** Blobs kept (DiscardSinkOptions.keep) whose bytes matched: digest → the file written. */
  get kept(): ReadonlyMap<Digest, string> {
    return this.#kept;
  }

  async exists(desc: Pick<Descriptor, 'digest'>): Promise<boolean> {
    return this.#holds.has(desc.digest);
  }

  async push(desc: Descriptor, body: Readable, opts?: CallOptions): Promise<void> {
    const file = this.#keep?.(desc);
    if (file) await mkdir(dirname(file), { recursive: true });
    if (await this.#take(desc, body, file ? createWriteStream(file, { mode: 0o600 }) : nowhere(), opts)) {
      if (file) this.#kept.set(desc.digest, file);
    } else if (file) {
      await rm(file, { force: true });
    }
  }

  async pushPiece(_desc: Descriptor, piece: BlobPieceRef, body: Readable, opts?: CallOptions): Promise<void> {
    await this.#take(piece, body, nowhere(), opts);
  }

  async tag(): Promise<void> {}

  /** Every blob but those to keep (DiscardSinkOptions.keep) can be checked elsewhere. */
  takesChecked(desc: Descriptor): boolean {
    return this.#keep?.(desc) === undefined;
  }

  async pushChecked(desc: Descriptor, check: Promise<void>): Promise<void> {
    await this.#settle(desc, check);
  }

  async pushPieceChecked(_desc: Descriptor, piece: BlobPieceRef, check: Promise<void>): Promise<void> {
    await this.#settle(piece, check);
  }

  /** A check (made here or elsewhere): counted when it passed, a problem when the bytes did not match. */
  async #settle(checked: Pick<Descriptor, 'size'>, check: Promise<void>): Promise<boolean> {
    try {
      await check;
    } catch (err) {
      if (!isAirlockError(err) || (err.code !== 'DIGEST_MISMATCH' && err.code !== 'SIZE_MISMATCH')) throw err;
      this.problems.push(err);
      return false;
    }
    this.blobs++;
    this.bytes += checked.size;
    return true;
  }

  /** True when the bytes matched; false (and a problem recorded) when they did not. */
  async #take(checked: Pick<Descriptor, 'digest' | 'size'>, body: Readable, out: Writable, opts?: CallOptions): Promise<boolean> {
    // The copy engine's body verifies itself already: no second hash.
    const verify = isVerifiedFor(body, checked) ? [] : [verifyStream(checked)];
    const ok = await this.#settle(checked, pipeline([body, ...verify, out], ...(opts?.signal ? [{ signal: opts.signal }] : [])));
    if (!ok) body.resume();
    return ok;
  }
}

function nowhere(): Writable {
  return new Writable({ highWaterMark: 1 << 20, write: (_c, _e, cb) => cb() });
}
