import type { Readable } from 'node:stream';
import { SizeMismatchError } from '../errors.js';
import { abortError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { RegistryError } from './errors.js';
import { HEADER_LOCATION, HEADER_RANGE } from './headers.js';
import { sleep } from './retry.js';
import { CHUNKS, chunksOf, giveBackAll, releasing, releasingChunks, type ByteSemaphore } from '../util/index.js';
import { header, type RequestBody, type Transport, type TransportResponse } from './transport.js';

/**
 * Blob upload, as the distribution spec's "Pushing blobs" section describes
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs):
 * POST opens a session, then either one PUT with the whole body (monolithic) or PATCHes of
 * chunks followed by a PUT `?digest=` that closes it. The registry checks the digest then.
 */
export interface UploadContext {
  readonly transport: Transport;
  readonly repository: string;
  readonly where: string;
  readonly scopes: readonly string[];
  /**
   * PATCH chunk size for blobs above monolithicMax; 0: one streamed PUT with Content-Length
   * instead (the default: see uploadStreamed).
   */
  readonly chunkSize: number;
  readonly monolithicMax: number;
  /** The budget a blob sent whole is held in (RegistryHost.held); none: unbounded. */
  readonly held?: ByteSemaphore | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Named in errors: "blob sha256:…". */
  readonly what?: string;
  /**
   * An upload session already open in this repository (one the import's preflight opened to check
   * push access and kept: Repository.checkPush `keep`), taken by an upload sent whole instead of
   * opening one. Gives it once, then undefined.
   */
  readonly takeSession?: () => string | undefined;
}

const OCTET = 'application/octet-stream';

export async function uploadBlob(ctx: UploadContext, desc: Descriptor, body: Readable): Promise<void> {
  if (desc.size <= ctx.monolithicMax) {
    const release = await ctx.held?.acquire(desc.size);
    try {
      const data = await readExactly(body, desc, ctx.where);
      await uploadMonolithic(ctx, desc, data.length === 1 ? data[0]! : { chunks: data, length: desc.size });
      // Answered 201: the registry read every byte, so the chunks (pool chunks of a bundle read) can go back.
      giveBackAll(data);
    } finally {
      release?.();
    }
  } else if (ctx.chunkSize > 0) {
    await uploadChunked({ ...ctx, what: `blob ${desc.digest}` }, desc, body);
  } else {
    await uploadStreamed(ctx, desc, body);
  }
}

/** POST: open an upload session; returns its Location. */
export async function startUpload(ctx: UploadContext, query = ''): Promise<TransportResponse> {
  return ctx.transport.request({
    method: 'POST',
    url: `/v2/${ctx.repository}/blobs/uploads/${query}`,
    scopes: ctx.scopes,
    ok: [201, 202],
    // Opening a second session after a lost answer only leaves an orphan the registry purges.
    retry: true,
    where: ctx.where,
    repository: ctx.repository,
    what: 'an upload session',
    push: true,
    signal: ctx.signal,
  });
}

function locationOf(res: TransportResponse, ctx: UploadContext): string {
  const loc = header(res, HEADER_LOCATION);
  if (!loc) {
    throw new RegistryError('REGISTRY', `${ctx.where} answered an upload request without a Location header`, {
      method: 'POST', url: res.url, status: res.status, where: ctx.where, registry: ctx.transport.registry, repository: ctx.repository, hint: 'the registry is not distribution-spec compliant; run `airlock registry probe`',
    });
  }
  return ctx.transport.resolveUrl(loc).toString();
}

/**
 * The closing PUT `?digest=` of an upload session, with the last (or only) bytes when there are any
 * (spec "Pushing blobs"); the registry checks the digest there. Never retried by the transport: a
 * session that saw a failed PUT has unknown contents.
 */
async function finishUpload(ctx: UploadContext, location: string, desc: Descriptor, body?: RequestBody): Promise<void> {
  const res = await ctx.transport.request({
    method: 'PUT',
    url: withDigest(location, desc.digest),
    headers: { 'content-type': OCTET },
    ...(body !== undefined ? { body } : {}),
    scopes: ctx.scopes,
    ok: [201, 204],
    retry: false,
    where: ctx.where,
    repository: ctx.repository,
    what: `blob ${desc.digest}`,
    push: true,
    signal: ctx.signal,
  });
  await res.body.dump().catch(() => {});
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/**
 * Monolithic: the whole (small) blob is in memory, so a failure anywhere restarts from a fresh
 * session: a PUT cut off half-way leaves a session with unknown contents (Distribution appends what
 * arrived), which must not be reused.
 */
async function uploadMonolithic(ctx: UploadContext, desc: Descriptor, data: Buffer | { readonly chunks: readonly Buffer[]; readonly length: number }): Promise<void> {
  let attempt = 0;
  let kept = ctx.takeSession?.();
  for (;;) {
    const onKept = kept !== undefined;
    const location = kept ?? locationOf(await startUpload(ctx), ctx);
    kept = undefined;
    try {
      await finishUpload(ctx, location, desc, data);
      return;
    } catch (err) {
      // A kept session the registry no longer takes (expired, purged, or a PUT it refused there):
      // the upload again on a session of its own, as if there had been none, before any verdict.
      if (onKept && !ctx.signal?.aborted) continue;
      if (!(err instanceof RegistryError) || !err.retryable || attempt >= ctx.transport.retries) throw err;
      if (ctx.signal?.aborted) throw abortError(ctx.signal);
      await sleep(ctx.transport.delayFor(attempt++), ctx.signal);
    }
  }
}

/**
 * Streamed: POST, then one PUT `?digest=` whose body is the stream itself, with Content-Length
 * (spec "Pushing a blob monolithically", POST then PUT). Measured on loopback against
 * Distribution 2.8 (docs/BENCHMARKS.md): 16 MiB PATCH chunks pushed ~160 MB/s and held a chunk
 * per transfer in memory; the streamed PUT runs at what the registry can take and holds only the
 * stream's buffers. It cannot resume: a failure discards the session and surfaces as a retryable
 * error, and the copy engine sends the whole blob again from its source.
 */
async function uploadStreamed(ctx: UploadContext, desc: Descriptor, body: Readable): Promise<void> {
  const location = locationOf(await startUpload(ctx), ctx);
  // A source that errors (a digest mismatch upstream) must fail the request with its own error.
  let sourceError: unknown;
  const onError = (err: unknown): void => {
    sourceError ??= err;
  };
  body.on('error', onError);
  // A body that offers its chunks straight (a bundle read, verified on the way: content/verify-stream.ts
  // verifyBody) is taken as they come, with no stream machinery between the file and the socket.
  const chunked = chunksOf(body);
  let stream: AsyncIterable<Buffer>;
  if (chunked) {
    const source = chunked[CHUNKS]();
    stream = releasing({
      next: () => source.next().catch((err: unknown) => {
        sourceError ??= err;
        throw err;
      }),
      return: async () => (await source.return?.()) ?? { done: true, value: undefined },
    });
  } else {
    stream = releasingChunks(body);
  }
  try {
    await finishUpload(ctx, location, desc, { stream, length: desc.size });
  } catch (err) {
    body.destroy();
    await cancelUpload(ctx, location);
    throw sourceError ?? err;
  } finally {
    body.off('error', onError);
  }
}

/**
 * Chunked: one chunk (chunkSize bytes) is held in memory at a time, so a PATCH that fails can be
 * resent from where the registry says it stopped (GET on the session answers `Range: 0-<last>`,
 * spec "Pushing a blob in chunks").
 */
async function uploadChunked(ctx: UploadContext, desc: Descriptor, body: Readable): Promise<void> {
  let location = locationOf(await startUpload(ctx), ctx);
  let offset = 0;
  try {
    for await (const chunk of chunks(body, ctx.chunkSize)) {
      if (offset + chunk.length > desc.size) {
        throw new SizeMismatchError(desc.digest, desc.size, offset + chunk.length, { where: ctx.where });
      }
      location = await patchChunk(ctx, location, chunk, offset);
      offset += chunk.length;
    }
    if (offset !== desc.size) throw new SizeMismatchError(desc.digest, desc.size, offset, { where: ctx.where });
    await finishUpload(ctx, location, desc);
  } catch (err) {
    body.destroy();
    await cancelUpload(ctx, location);
    throw err;
  }
}

async function patchChunk(ctx: UploadContext, location: string, chunk: Buffer, offset: number): Promise<string> {
  let attempt = 0;
  let sent = 0; // bytes of this chunk the registry already holds
  for (;;) {
    const part = sent === 0 ? chunk : chunk.subarray(sent);
    const start = offset + sent;
    try {
      const res = await ctx.transport.request({
        method: 'PATCH',
        url: location,
        headers: { 'content-type': OCTET, 'content-range': `${start}-${start + part.length - 1}` },
        body: part,
        scopes: ctx.scopes,
        ok: [202],
        retry: false,
        where: ctx.where,
        repository: ctx.repository,
        what: 'an upload chunk',
        push: true,
        signal: ctx.signal,
      });
      await res.body.dump().catch(() => {});
      return locationOf(res, ctx);
    } catch (err) {
      if (!(err instanceof RegistryError) || (!err.retryable && err.status !== 416) || attempt >= ctx.transport.retries) throw err;
      if (ctx.signal?.aborted) throw abortError(ctx.signal);
      await sleep(ctx.transport.delayFor(attempt++), ctx.signal);
      const have = await uploadedBytes(ctx, location).catch((statusErr: unknown) => {
        // Distribution appends whatever part of a broken PATCH arrived, and its session state no
        // longer matches (BLOB_UPLOAD_INVALID): that session cannot continue. The bytes before this
        // chunk are gone from the stream, so the caller must push the blob again from its source.
        throw new RegistryError('NETWORK', `the upload of ${ctx.what ?? 'a blob'} to ${ctx.where} was interrupted and the registry cannot resume it`, {
          method: 'PATCH', url: location, status: undefined, where: ctx.where, registry: ctx.transport.registry, repository: ctx.repository, retryable: true, cause: err,
          errors: statusErr instanceof RegistryError ? statusErr.errors : [],
          hint: 'retry the copy; the interrupted upload session has been discarded',
        });
      });
      if (have < offset || have > offset + chunk.length) throw err;
      sent = have - offset;
      if (sent === chunk.length) return location;
    }
  }
}

/** How many bytes the session holds: `Range: 0-<last>` of GET on the session (Distribution: "0-0" when empty). */
async function uploadedBytes(ctx: UploadContext, location: string): Promise<number> {
  const res = await ctx.transport.request({
    method: 'GET', url: location, scopes: ctx.scopes, ok: [204, 200], where: ctx.where, repository: ctx.repository, what: 'upload status', push: true, signal: ctx.signal,
  });
  await res.body.dump().catch(() => {});
  const m = /^(?:bytes=)?0-(\d+)$/.exec(header(res, HEADER_RANGE) ?? '');
  if (!m) return 0;
  const last = Number(m[1]);
  return last === 0 ? 0 : last + 1;
}

export async function cancelUpload(ctx: Pick<UploadContext, 'transport' | 'scopes' | 'where'>, location: string, signal?: AbortSignal): Promise<void> {
  try {
    const res = await ctx.transport.request({
      method: 'DELETE', url: location, scopes: ctx.scopes, ok: [200, 202, 204, 404, 405], retry: false, where: ctx.where, push: true, ...(signal ? { signal } : {}),
    });
    await res.body.dump().catch(() => {});
  } catch {
    // best effort: registries purge abandoned sessions themselves
  }
}

/** Re-slice a stream into `size`-byte buffers (the last one shorter). */
async function* chunks(body: Readable, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let fill = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    let pos = 0;
    while (pos < c.length) {
      const n = Math.min(size - fill, c.length - pos);
      c.copy(buf, fill, pos, pos + n);
      fill += n;
      pos += n;
      if (fill === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

/**
 * Read a small blob whole, as the chunks it came in (not copied into one buffer: a copy, and fresh
 * pages for it, cost ~4 % of an import's client CPU in `perf`), refusing more or fewer bytes than
 * the descriptor says. At least one chunk (an empty one for an empty blob).
 */
async function readExactly(body: Readable, desc: Descriptor, where: string): Promise<Buffer[]> {
  const chunked = chunksOf(body);
  const out: Buffer[] = [];
  let n = 0;
  const source: AsyncIterable<Buffer> = chunked ? { [Symbol.asyncIterator]: () => chunked[CHUNKS]() } : body;
  for await (const c of source) {
    if (n + c.length > desc.size) {
      body.destroy();
      throw new SizeMismatchError(desc.digest, desc.size, n + c.length, { where });
    }
    if (c.length === 0) continue;
    out.push(c);
    n += c.length;
  }
  if (n !== desc.size) throw new SizeMismatchError(desc.digest, desc.size, n, { where });
  return out.length > 0 ? out : [Buffer.alloc(0)];
}
