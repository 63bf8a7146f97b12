import net from 'node:net';
import { Readable } from 'node:stream';
import { ReceiveSlabs } from '../util/index.js';

/**
 * A blob GET over plain HTTP/1.1 on a connection of its own, read into pooled receive buffers
 * (util/receive-pool.ts): no allocation per socket read, no copy into the HTTP parser, no
 * concatenation of what is buffered. undici does all three, and on a 1.6 GB export they were
 * ~2 GB of short-lived external memory and ~55 mark-compacts (docs/BENCHMARKS.md "Export CPU,
 * 2026-12-07 (afternoon)").
 *
 * Only the simple answer is handled here: a 200 or 206 with a Content-Length and no
 * Transfer-Encoding. Anything else (a 401 challenge, a redirect, an error status, a chunked body)
 * resolves `undefined` after closing the connection, and the caller sends the request again
 * through its HTTP client, which handles every case; a GET may be sent twice. The body is not
 * verified here (the caller pipes it through verifyStream).
 */
export interface WireResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** Exactly Content-Length bytes, in chunks lent from the receive pool; fails if the connection ends early. */
  readonly body: Readable;
}

export interface WireGetOptions {
  readonly signal?: AbortSignal | undefined;
  /** No byte for this long, before or during the body: fail (ETIMEDOUT). */
  readonly timeoutMs: number;
  readonly highWaterMark?: number;
}

/** An HTTP header field name (RFC 9110 token). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Response heads larger than this are not ours to parse (undici's default limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 << 10;

export function wireGet(u: URL, headers: Readonly<Record<string, string>>, opts: WireGetOptions): Promise<WireResponse | undefined> {
  // A field this code would have to refuse (a line break in a token, say): undici refuses it with its own error.
  if (Object.entries(headers).some(([k, v]) => !FIELD_NAME.test(k) || /[\r\n\0]/.test(v))) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const slabs = new ReceiveSlabs();
    let head: Buffer | undefined = Buffer.alloc(0);
    let remaining = 0;
    let body: Readable | undefined;
    let settled = false;
    const settle = (err: Error | undefined, res?: WireResponse): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(res);
    };

    const onRead = (nread: number, buf: Buffer): boolean => {
      let start = 0;
      if (head !== undefined) {
        const seen = head.length;
        head = Buffer.concat([head, buf.subarray(0, nread)]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          // Copied into `head`: the next read may go to the same place.
          if (head.length > MAX_HEAD_BYTES) fail(protocolError('response head too large'));
          return true;
        }
        const parsed = parseHead(head.subarray(0, end));
        head = undefined;
        start = end + 4 - seen;
        if (!parsed) {
          socket.destroy();
          slabs.close();
          settle(undefined, undefined);
          return false;
        }
        remaining = parsed.length;
        body = new Readable({
          highWaterMark: opts.highWaterMark ?? 1 << 20,
          // The socket stops reading when a push is refused (onRead returns false); resume() starts it again.
          read: () => {
            socket.resume();
          },
          destroy: (err, cb) => {
            socket.destroy();
            slabs.close();
            cb(err);
          },
        });
        settle(undefined, { status: parsed.status, headers: parsed.headers, body });
        if (remaining === 0) finish();
      }
      const n = Math.min(nread - start, remaining);
      if (nread - start > remaining) {
        slabs.advance(nread);
        fail(protocolError(`more bytes than the Content-Length`));
        return false;
      }
      let more = true;
      if (n > 0) {
        remaining -= n;
        more = body!.push(slabs.take(start, n));
      }
      slabs.advance(nread);
      if (remaining === 0) {
        finish();
        return false;
      }
      return more;
    };

    const socket = net.connect({
      host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || 80),
      onread: { buffer: () => slabs.space(), callback: onRead },
    });

    function finish(): void {
      socket.destroy();
      slabs.close();
      body?.push(null);
    }

    function fail(err: Error): void {
      socket.destroy();
      slabs.close();
      if (body) body.destroy(err);
      settle(err);
    }

    socket.setNoDelay(true);
    socket.setTimeout(opts.timeoutMs, () => fail(Object.assign(new Error(`no data for ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.once('connect', () => {
      const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, 'connection: close'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    });
    socket.on('error', (err) => fail(err));
    socket.on('close', () => {
      if (head !== undefined || remaining > 0) fail(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    });
    const signal = opts.signal;
    if (signal) {
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : Object.assign(new Error('aborted'), { name: 'AbortError' }));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(message), { code: 'HPE_INVALID' });
}

/** Status line and header fields; undefined unless a 200/206 with a Content-Length and no Transfer-Encoding. */
function parseHead(raw: Buffer): { status: number; headers: Record<string, string | string[]>; length: number } | undefined {
  const lines = raw.toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const status = Number(m[1]);
  if (status !== 200 && status !== 206) return undefined;
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return undefined;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    const had = headers[name];
    headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  if (headers['transfer-encoding'] !== undefined) return undefined;
  const cl = headers['content-length'];
  if (typeof cl !== 'string' || !/^\d{1,15}$/.test(cl)) return undefined;
  return { status, headers, length: Number(cl) };
}
