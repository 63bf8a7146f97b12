/**
 * A fault-injecting HTTP proxy in front of a real registry on 127.0.0.1. Rules pick requests (by
 * method, path and occurrence) and break them: an error status (503, 429 with Retry-After), a reset
 * or truncation part-way through a response or a request body, a stall, a lying Content-Length, or
 * a redirect to the proxy's second origin (which records the headers it receives: Authorization
 * must not follow a redirect to another host). Everything else is forwarded untouched; counters
 * say what passed.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  /** Answer with this status (and headers/body) instead of forwarding. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  /** Forward, then destroy the connection after `afterBytes` bytes of the response body. */
  | { readonly kind: 'reset-response'; readonly afterBytes: number }
  /** Forward with the real Content-Length but end the connection after `afterBytes` bytes. */
  | { readonly kind: 'truncate-response'; readonly afterBytes: number }
  /** Forward, but declare and send only `length` bytes of the body (a clean, short answer). */
  | { readonly kind: 'wrong-length'; readonly length: number }
  /** Forward `afterBytes` bytes of the request body upstream, then destroy both connections. */
  | { readonly kind: 'reset-request'; readonly afterBytes: number }
  /** Wait `ms` before forwarding. */
  | { readonly kind: 'stall'; readonly ms: number }
  /** 307 to the same path on the proxy's alternate origin (another 127.0.0.1 port). */
  | { readonly kind: 'redirect-alt'; readonly status?: number }
  /**
   * Forward, but append `append` to the response body and fix Content-Length: a clean, well-formed
   * answer whose bytes no longer match the digest they were asked for (JSON stays valid).
   */
  | { readonly kind: 'alter-response'; readonly append: string }
  /** Append `append` to the request body on its way upstream and fix Content-Length (a manifest PUT
   * then stores other bytes than the client hashed). */
  | { readonly kind: 'alter-request'; readonly append: string }
  /** Never answer (until the client gives up or the proxy stops). */
  | { readonly kind: 'hang' };

export interface FaultRule {
  readonly method?: string;
  readonly path?: RegExp;
  /** Which matching requests to break, 1-based (e.g. [1, 3]). Default: the first `times`. */
  readonly nth?: readonly number[];
  /** With no `nth`: how many matching requests to break. Default: all of them. */
  readonly times?: number;
  readonly action: FaultAction;
}

export interface ProxyRequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly fault: FaultAction['kind'] | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The request's Authorization header, as the client sent it (credential-scoping tests). */
  readonly authorization?: string;
}

export interface FaultProxyCounters {
  requests: number;
  faults: number;
  /** Request body bytes received from clients. */
  bytesIn: number;
  /** Response body bytes sent to clients. */
  bytesOut: number;
  readonly byMethod: Record<string, number>;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`: use as the registry name. */
  readonly host: string;
  readonly url: string;
  /** The second origin redirects point at. */
  readonly altHost: string;
  readonly counters: FaultProxyCounters;
  readonly log: ProxyRequestRecord[];
  /** Headers of every request that reached the alternate origin. */
  readonly altRequests: { method: string; path: string; headers: Record<string, string | string[] | undefined> }[];
  /** Replace the rules (their occurrence counters start again). */
  setRules(rules: readonly FaultRule[]): void;
  resetCounters(): void;
  /**
   * Resolves once no request is being handled. A stalled request is forwarded when its stall ends,
   * even if its client was killed meanwhile: wait for it before judging the registry, or the check
   * races Distribution's own non-atomic tag write (a tag listed whose link is not written yet).
   */
  idle(): Promise<void>;
  /** skopeo flags (plain HTTP to the proxy). */
  skopeoFlags(side: 'src' | 'dest'): string[];
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** `127.0.0.1:PORT` of the upstream registry (plain HTTP). */
  readonly upstream: string;
  readonly rules?: readonly FaultRule[];
  /** Added by the alternate origin when it forwards upstream (as a storage backend's signed URL would carry its own authority). */
  readonly altAuthorization?: string;
  /** Extra skopeo flags (e.g. --dest-creds) for skopeoFlags(). */
  readonly skopeoExtra?: (side: 'src' | 'dest') => string[];
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const [upHost, upPortText] = opts.upstream.split(':');
  const upPort = Number(upPortText);
  let rules: { rule: FaultRule; seen: number; fired: number }[] = [];
  const counters: FaultProxyCounters = { requests: 0, faults: 0, bytesIn: 0, bytesOut: 0, byMethod: {} };
  const log: ProxyRequestRecord[] = [];
  const altRequests: FaultProxy['altRequests'] = [];
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();

  const setRules = (r: readonly FaultRule[]): void => {
    rules = r.map((rule) => ({ rule, seen: 0, fired: 0 }));
  };
  setRules(opts.rules ?? []);

  const pick = (req: IncomingMessage): FaultAction | undefined => {
    for (const r of rules) {
      if (r.rule.method && r.rule.method !== req.method) continue;
      if (r.rule.path && !r.rule.path.test(req.url ?? '')) continue;
      r.seen++;
      const hit = r.rule.nth ? r.rule.nth.includes(r.seen) : r.fired < (r.rule.times ?? Infinity);
      if (hit) {
        r.fired++;
        return r.rule.action;
      }
    }
    return undefined;
  };

  let altPort = 0;
  const hanging = new Set<() => void>();

  /** Buffer both bodies (manifest-sized traffic only) so one can be changed and re-measured. */
  const forwardAltered = async (
    req: IncomingMessage, res: ServerResponse,
    action: Extract<FaultAction, { kind: 'alter-response' | 'alter-request' }>,
    record: { status?: number; bytesIn: number; bytesOut: number },
  ): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (action.kind === 'alter-request' && body.length > 0) body = Buffer.concat([body, Buffer.from(action.append)]);
    record.bytesIn = body.length;
    counters.bytesIn += body.length;
    const headers = { ...req.headers };
    if (action.kind === 'alter-request' && body.length > 0) headers['content-length'] = String(body.length);
    await new Promise<void>((resolve) => {
      const up = httpRequest({ host: upHost, port: upPort, method: req.method, path: req.url, headers }, (upRes) => {
        const out: Buffer[] = [];
        upRes.on('data', (c: Buffer) => out.push(c));
        upRes.on('end', () => {
          record.status = upRes.statusCode;
          let payload = Buffer.concat(out);
          const outHeaders = { ...upRes.headers };
          if (action.kind === 'alter-response' && req.method === 'GET' && (upRes.statusCode ?? 0) < 300) {
            payload = Buffer.concat([payload, Buffer.from(action.append)]);
            outHeaders['content-length'] = String(payload.length);
          }
          res.writeHead(upRes.statusCode ?? 502, outHeaders);
          record.bytesOut = payload.length;
          counters.bytesOut += payload.length;
          res.end(req.method === 'HEAD' ? undefined : payload);
          resolve();
        });
        upRes.on('error', () => resolve());
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
        resolve();
      });
      up.end(body);
    });
  };

  const forward = (req: IncomingMessage, res: ServerResponse, action: FaultAction | undefined, record: { status?: number; bytesIn: number; bytesOut: number }, extraHeaders: Record<string, string> = {}): Promise<void> =>
    new Promise<void>((resolve) => {
      const headers = { ...req.headers, ...extraHeaders };
      const up = httpRequest({ host: upHost, port: upPort, method: req.method, path: req.url, headers }, (upRes) => {
        record.status = upRes.statusCode;
        const outHeaders = { ...upRes.headers };
        let limit = Infinity;
        if (action?.kind === 'wrong-length') {
          outHeaders['content-length'] = String(action.length);
          limit = action.length;
        }
        res.writeHead(upRes.statusCode ?? 502, outHeaders);
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if ((action?.kind === 'reset-response' || action?.kind === 'truncate-response') && sent + chunk.length >= action.afterBytes) {
            const part = chunk.subarray(0, Math.max(0, action.afterBytes - sent));
            sent += part.length;
            record.bytesOut = sent;
            counters.bytesOut += part.length;
            res.write(part, () => {
              if (action.kind === 'reset-response') res.socket?.resetAndDestroy?.() ?? res.socket?.destroy();
              else res.socket?.end();
            });
            upRes.destroy();
            resolve();
            return;
          }
          if (sent + chunk.length > limit) {
            const part = chunk.subarray(0, limit - sent);
            sent += part.length;
            counters.bytesOut += part.length;
            record.bytesOut = sent;
            res.end(part);
            upRes.destroy();
            resolve();
            return;
          }
          sent += chunk.length;
          counters.bytesOut += chunk.length;
          record.bytesOut = sent;
          res.write(chunk);
        });
        upRes.on('end', () => {
          res.end();
          resolve();
        });
        upRes.on('error', () => resolve());
      });
      up.on('error', () => {
        if (!res.headersSent) {
          res.writeHead(502);
          res.end();
        } else res.destroy();
        resolve();
      });
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        if (action?.kind === 'reset-request' && received + chunk.length >= action.afterBytes) {
          const part = chunk.subarray(0, Math.max(0, action.afterBytes - received));
          received += part.length;
          counters.bytesIn += part.length;
          record.bytesIn = received;
          up.write(part, () => {
            up.destroy();
            req.socket.destroy();
            resolve();
          });
          req.pause();
          return;
        }
        received += chunk.length;
        counters.bytesIn += chunk.length;
        record.bytesIn = received;
        up.write(chunk);
      });
      req.on('end', () => up.end());
      req.on('error', () => {
        up.destroy();
        resolve();
      });
    });

  const main = createServer((req, res) => {
    counters.requests++;
    counters.byMethod[req.method ?? '?'] = (counters.byMethod[req.method ?? '?'] ?? 0) + 1;
    const action = pick(req);
    if (action) counters.faults++;
    const record: { status?: number; bytesIn: number; bytesOut: number } = { bytesIn: 0, bytesOut: 0 };
    const done = (): void => {
      log.push({
        method: req.method ?? '?', path: req.url ?? '', status: record.status, fault: action?.kind, bytesIn: record.bytesIn, bytesOut: record.bytesOut,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
    };
    const run = async (): Promise<void> => {
      if (action?.kind === 'status') {
        req.resume();
        record.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
        res.end(action.body ?? JSON.stringify({ errors: [{ code: action.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected fault' }] }));
        return;
      }
      if (action?.kind === 'redirect-alt') {
        req.resume();
        record.status = action.status ?? 307;
        res.writeHead(record.status, { location: `http://127.0.0.1:${altPort}${req.url ?? '/'}` });
        res.end();
        return;
      }
      if (action?.kind === 'stall') await new Promise((r) => setTimeout(r, action.ms));
      // A client that died during the stall took its request with it: its body is gone (Node drops
      // what it had buffered), so there is nothing to forward, and waiting for it would never end.
      if (req.destroyed) return;
      if (action?.kind === 'hang') {
        req.resume();
        await new Promise<void>((r) => {
          hanging.add(r);
          res.on('close', () => r());
        });
        return;
      }
      if (action?.kind === 'alter-response' || action?.kind === 'alter-request') {
        await forwardAltered(req, res, action, record);
        return;
      }
      await forward(req, res, action, record);
    };
    const handled = run().then(done, done);
    inFlight.add(handled);
    void handled.finally(() => inFlight.delete(handled));
  });

  const alt = createServer((req, res) => {
    altRequests.push({ method: req.method ?? '?', path: req.url ?? '', headers: { ...req.headers } });
    const record = { bytesIn: 0, bytesOut: 0 };
    const { authorization: _drop, ...rest } = req.headers;
    void _drop;
    req.headers = rest;
    void forward(req, res, undefined, record, opts.altAuthorization ? { authorization: opts.altAuthorization } : {});
  });
  for (const s of [main, alt]) {
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
  }
  const port = await listen(main);
  altPort = await listen(alt);

  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    altHost: `127.0.0.1:${altPort}`,
    counters,
    log,
    altRequests,
    setRules,
    resetCounters() {
      counters.requests = 0;
      counters.faults = 0;
      counters.bytesIn = 0;
      counters.bytesOut = 0;
      for (const k of Object.keys(counters.byMethod)) delete counters.byMethod[k];
      log.length = 0;
      altRequests.length = 0;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    skopeoFlags(side) {
      return [`--${side}-tls-verify=false`, ...(opts.skopeoExtra?.(side) ?? [])];
    },
    async stop() {
      for (const r of hanging) r();
      for (const s of sockets) s.destroy();
      await Promise.all([main, alt].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
