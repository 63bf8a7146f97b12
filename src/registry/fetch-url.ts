import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { createDispatcher } from './proxy.js';
import { AirlockError, abortError, isAirlockError } from '../errors.js';
import { redactUrl } from '../util/index.js';
import { certDirContext, loadCertDir } from './cert-dir.js';
import { errCode, isTlsFailure } from './errors.js';
import { HEADER_LOCATION } from './headers.js';

/**
 * Plain HTTP(S) downloads outside the distribution API: `url:` files and classic chart
 * repositories (index.yaml, .tgz, .prov). No credentials are ever sent; TLS is verified unless
 * the host's mirror-list settings say otherwise.
 */
export interface FetchUrlOptions {
  /** Names the request in errors (mirror list `file:line:col`). */
  readonly where: string;
  /** `verify` (default): system CAs plus certDir's. `skip-verify`: no verification (testing only). */
  readonly tls?: 'verify' | 'skip-verify' | 'plain-http';
  /** certs.d-style directory of extra CAs (and a client pair). */
  readonly certDir?: string;
  /** Refuse bodies larger than this many bytes. Default: no cap. */
  readonly maxBytes?: number;
  /** Header and body-silence timeout in ms. Default 120000. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface UrlResponse {
  /** The URL that answered, after redirects (redacted). */
  readonly url: string;
  /** Content-Length when the server sent one. */
  readonly size?: number;
  /** The body, capped at `maxBytes`; the caller verifies what it needs. */
  readonly body: Readable;
}

const MAX_REDIRECTS = 5;

/** GET `url`, following redirects; 2xx only. */
export async function fetchUrl(url: string, opts: FetchUrlOptions): Promise<UrlResponse> {
  const dir = opts.certDir ? await loadCertDir(opts.certDir) : undefined;
  const secureContext = dir ? certDirContext(dir, opts.certDir) : undefined;
  const timeout = opts.timeoutMs ?? 120_000;
  // Export only: HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply (proxy.ts).
  const agent = createDispatcher({
    connections: 2,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connect: {
      ...(secureContext ? { secureContext } : {}),
      rejectUnauthorized: (opts.tls ?? 'verify') === 'verify',
    },
  }, true);
  let target = new URL(url);
  try {
    for (let hop = 0; ; hop++) {
      if (target.protocol !== 'https:' && target.protocol !== 'http:') {
        throw new AirlockError('NETWORK', `${redactUrl(url)} redirects to a ${target.protocol} URL`, { where: opts.where });
      }
      let res: Dispatcher.ResponseData;
      try {
        res = await agent.request({
          origin: target.origin, path: `${target.pathname}${target.search}`, method: 'GET',
          headers: { 'user-agent': 'airlock', accept: '*/*' },
          ...(opts.signal ? { signal: opts.signal } : {}),
          highWaterMark: 1 << 20,
        });
      } catch (err) {
        throw networkError(err, target, opts);
      }
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && hop < MAX_REDIRECTS) {
        const loc = res.headers[HEADER_LOCATION];
        await res.body.dump().catch(() => {});
        if (typeof loc !== 'string') throw new AirlockError('NETWORK', `${redactUrl(target)} redirects without a Location`, { where: opts.where });
        target = new URL(loc, target);
        continue;
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        await res.body.dump().catch(() => {});
        const notFound = res.statusCode === 404 || res.statusCode === 410;
        throw new AirlockError(notFound ? 'NOT_FOUND' : 'NETWORK', `GET ${redactUrl(target)} answered HTTP ${res.statusCode}`, {
          where: opts.where,
          hint: notFound ? 'check the URL in the mirror list' : 'the server refused the download; check the URL and retry',
        });
      }
      const len = Number(res.headers['content-length']);
      const size = Number.isSafeInteger(len) && len >= 0 ? len : undefined;
      if (opts.maxBytes !== undefined && size !== undefined && size > opts.maxBytes) {
        await res.body.dump().catch(() => {});
        throw tooLarge(target, opts);
      }
      const body = opts.maxBytes === undefined ? res.body : res.body.pipe(capStream(opts.maxBytes, () => tooLarge(target, opts)));
      if (body !== res.body) res.body.on('error', (err) => body.destroy(err));
      // The agent is per download: close it once the body is consumed or abandoned.
      body.once('close', () => void agent.close().catch(() => {}));
      return { url: redactUrl(target), ...(size !== undefined ? { size } : {}), body };
    }
  } catch (err) {
    await agent.close().catch(() => {});
    throw err;
  }
}

/** GET a small document (index.yaml) whole, capped at `maxBytes`. */
export async function readUrl(url: string, opts: FetchUrlOptions & { readonly maxBytes: number }): Promise<Buffer> {
  const res = await fetchUrl(url, opts);
  const chunks: Buffer[] = [];
  for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function capStream(max: number, fail: () => AirlockError): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      n += chunk.length;
      if (n > max) cb(fail());
      else cb(null, chunk);
    },
  });
}

function tooLarge(u: URL, opts: FetchUrlOptions): AirlockError {
  return new AirlockError('IO', `${redactUrl(u)} is larger than ${opts.maxBytes} bytes`, {
    where: opts.where, hint: 'the server sent far more than such a file should hold; check the URL',
  });
}

function networkError(err: unknown, u: URL, opts: FetchUrlOptions): AirlockError {
  if (opts.signal?.aborted) return abortError(opts.signal);
  if (isAirlockError(err)) return err;
  const code = errCode(err) ?? 'UNKNOWN';
  if (u.protocol === 'https:' && isTlsFailure(err)) {
    return new AirlockError('TLS', `TLS connection to ${u.host} failed (${code})`, {
      where: opts.where, cause: err,
      hint: `the server's certificate is not trusted: give ${u.host} a certDir with its CA under registries: in the mirror list`,
    });
  }
  return new AirlockError('NETWORK', `cannot download ${redactUrl(u)} (${code})`, {
    where: opts.where, cause: err, hint: 'check the URL and that this host can reach it',
  });
}
