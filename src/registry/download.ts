import { finished, Readable } from 'node:stream';
import { abortError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { RegistryError, transportErrorFrom } from './errors.js';
import { HEADER_CONTENT_RANGE } from './headers.js';
import { sleep } from './retry.js';
import { header, type ResponseBody, type Transport, type TransportResponse } from './transport.js';

/** Blob downloads use 1 MiB buffers: fewer, larger chunks through verifyStream and the sink. */
export const BLOB_HIGH_WATER_MARK = 1 << 20;

/**
 * Blobs from this size on are downloaded over a connection of their own into pooled receive
 * buffers when the registry speaks plain HTTP (wire-get.ts); smaller ones (configs, signatures)
 * share undici's kept-alive connections, where a new connection would cost more than it saves.
 */
export const WIRE_MIN_BYTES = 256 * 1024;

export interface ResumableOptions {
  readonly transport: Transport;
  readonly desc: Descriptor;
  readonly where: string;
  /** Re-issue the GET from `offset` (with `Range: bytes=offset-`). */
  readonly reopen: (offset: number) => Promise<TransportResponse>;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The body of a blob GET that survives a connection reset or a truncated body: it asks again with
 * `Range: bytes=N-` (spec "Pulling Blobs" allows Range) and continues where it stopped; a
 * registry that ignores Range (200) is skipped forward. The bytes are not verified here: the caller
 * pipes them through verifyStream exactly once.
 *
 * The chunks of each response pass straight on as they arrive ('data' events, the response paused
 * while the consumer is full), not through an async generator and a second stream: on a 1.6 GB
 * export that glue cost ~0.15 CPU-s (docs/BENCHMARKS.md "Export CPU, 2026-12-07 (afternoon)").
 * Readable's own iterator would also hand out everything buffered as one new concatenated Buffer.
 * The chunks received before an error are handed on before the error is acted on (a resumed
 * download counts them).
 */
export function resumableBody(first: TransportResponse, opts: ResumableOptions): Readable {
  return new ResumableBody(first, opts);
}

class ResumableBody extends Readable {
  readonly #opts: ResumableOptions;
  readonly #first: TransportResponse;
  #body: ResponseBody;
  #stop: (() => void) | undefined;
  #received = 0;
  #resumes = 0;
  #skip = 0;
  #resuming = false;

  constructor(first: TransportResponse, opts: ResumableOptions) {
    super({ highWaterMark: BLOB_HIGH_WATER_MARK });
    this.#opts = opts;
    this.#first = first;
    this.#body = first.body;
    this.#attach(first.body);
  }

  override _read(): void {
    if (!this.#resuming && this.#body.isPaused()) this.#body.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#detach();
    this.#body.destroy();
    cb(err);
  }

  #attach(body: ResponseBody): void {
    const onData = (raw: Buffer): void => {
      let c = raw;
      if (this.#skip > 0) {
        if (c.length <= this.#skip) {
          this.#skip -= c.length;
          return;
        }
        c = c.subarray(this.#skip);
        this.#skip = 0;
      }
      this.#received += c.length;
      if (!this.push(c)) body.pause();
    };
    body.on('data', onData);
    const stop = finished(body, (err) => {
      this.#detach();
      if (this.destroyed) return;
      this.#ended(err ?? undefined);
    });
    this.#stop = () => {
      body.off('data', onData);
      stop();
    };
  }

  #detach(): void {
    const s = this.#stop;
    this.#stop = undefined;
    s?.();
  }

  #ended(failure: unknown): void {
    const { desc } = this.#opts;
    // Ended cleanly and complete, or longer than expected (verifyStream will say so): done.
    if (failure === undefined && this.#received >= desc.size) {
      this.push(null);
      return;
    }
    this.#resuming = true;
    this.#resume(failure).then((body) => {
      this.#resuming = false;
      if (body === undefined) this.push(null);
      else if (this.destroyed) body.destroy();
      else {
        this.#body = body;
        this.#attach(body);
      }
    }, (err: unknown) => {
      this.#resuming = false;
      this.destroy(err as Error);
    });
  }

  /** The next response to read from, after `failure` (or a short body); undefined: end here. */
  async #resume(failure: unknown): Promise<ResponseBody | undefined> {
    const { transport, desc } = this.#opts;
    if (this.#opts.signal?.aborted) throw abortError(this.#opts.signal);
    if (this.#resumes >= transport.retries) {
      if (failure === undefined) return undefined; // short: verifyStream reports the size mismatch
      throw transportErrorFrom(failure, {
        method: 'GET', url: this.#first.url, where: this.#opts.where, side: transport.side, https: this.#first.url.startsWith('https:'),
        hasClientCert: false, neverConnected: false, attempts: this.#resumes + 1,
      });
    }
    if (failure instanceof RegistryError && !failure.retryable) throw failure;
    await sleep(transport.delayFor(this.#resumes), this.#opts.signal);
    this.#resumes++;
    this.#body.destroy();
    if (this.destroyed) return undefined;
    const res = await this.#opts.reopen(this.#received);
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(header(res, HEADER_CONTENT_RANGE) ?? '');
      if (start && Number(start[1]) !== this.#received) {
        // A range we did not ask for: start over from the beginning with a full GET.
        await res.body.dump().catch(() => {});
        throw new RegistryError('REGISTRY', `${this.#opts.where} answered a range request for blob ${desc.digest} with the wrong range`, {
          method: 'GET', url: res.url, status: 206, where: this.#opts.where, retryable: true, hint: 'retry; the registry or a proxy mishandles Range',
        });
      }
    } else {
      this.#skip = this.#received;
    }
    return res.body;
  }
}
