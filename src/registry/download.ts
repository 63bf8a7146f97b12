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
 */
export function resumableBody(first: TransportResponse, opts: ResumableOptions): Readable {
  const { transport, desc } = opts;
  async function* gen(): AsyncGenerator<Buffer> {
    let body: ResponseBody = first.body;
    let received = 0;
    let resumes = 0;
    let skip = 0;
    try {
      for (;;) {
        let failure: unknown;
        try {
          for await (const raw of chunksOf(body)) {
            let c = raw;
            if (skip > 0) {
              if (c.length <= skip) {
                skip -= c.length;
                continue;
              }
              c = c.subarray(skip);
              skip = 0;
            }
            received += c.length;
            yield c;
          }
        } catch (err) {
          failure = err;
        }
        // Ended cleanly and complete, or longer than expected (verifyStream will say so): done.
        if (failure === undefined && received >= desc.size) return;
        if (opts.signal?.aborted) throw abortError(opts.signal);
        if (resumes >= transport.retries) {
          if (failure === undefined) return; // short: verifyStream reports the size mismatch
          throw transportErrorFrom(failure, {
            method: 'GET', url: first.url, where: opts.where, side: transport.side, https: first.url.startsWith('https:'),
            hasClientCert: false, neverConnected: false, attempts: resumes + 1,
          });
        }
        if (failure instanceof RegistryError && !failure.retryable) throw failure;
        await sleep(transport.delayFor(resumes), opts.signal);
        resumes++;
        body.destroy();
        const res = await opts.reopen(received);
        if (res.status === 206) {
          const start = /^bytes (\d+)-/.exec(header(res, HEADER_CONTENT_RANGE) ?? '');
          if (start && Number(start[1]) !== received) {
            // A range we did not ask for: start over from the beginning with a full GET.
            await res.body.dump().catch(() => {});
            throw new RegistryError('REGISTRY', `${opts.where} answered a range request for blob ${desc.digest} with the wrong range`, {
              method: 'GET', url: res.url, status: 206, where: opts.where, retryable: true, hint: 'retry; the registry or a proxy mishandles Range',
            });
          }
          body = res.body;
        } else {
          body = res.body;
          skip = received;
        }
      }
    } finally {
      body.destroy();
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: BLOB_HIGH_WATER_MARK });
}

/** Bytes received ahead of the consumer before `chunksOf` pauses the body. */
const QUEUED_MAX = 256 * 1024;

/**
 * The chunks of `body` one by one, as they were received. Readable's own async iterator (for
 * await) hands out everything buffered at once as one new Buffer: a copy of those bytes and an
 * allocation of their size, which is what drives V8's mark-compacts while a blob streams
 * (external memory; docs/BENCHMARKS.md "Export, CPU and wall account"). Errors and a premature
 * close end it as for await would, after the chunks received before them.
 *
 * util/chunk-pool.ts `releasingChunks` takes 'data' chunks the same way for uploads, but on purpose
 * not with this function: there a failure is thrown before any chunk still queued (no byte goes
 * to a registry after its source failed, e.g. a digest mismatch at the end), and the body is paused
 * after every chunk (its pool buffer is handed back when the next is asked for). Here the chunks
 * received before an error are handed on first, since a resumed download counts them, and up to
 * QUEUED_MAX bytes are taken ahead.
 */
async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Buffer): void => {
    queue.push(c);
    queued += c.length;
    if (queued >= QUEUED_MAX) body.pause();
    notify();
  };
  const stop = finished(body, (err) => {
    if (err) failure ??= err;
    else ended = true;
    notify();
  });
  body.on('data', onData);
  try {
    for (;;) {
      const c = queue.shift();
      if (c) {
        queued -= c.length;
        if (queued === 0 && body.isPaused() && !ended && failure === undefined) body.resume();
        yield c;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    body.off('data', onData);
    stop();
  }
}
