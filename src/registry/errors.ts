import { AirlockError, type ErrorCode, type ErrorDetails } from '../errors.js';
import { redactUrl } from '../util/index.js';
import { MAX_ERROR_BODY_BYTES } from './headers.js';

/**
 * Error codes of the distribution spec ("Error Codes",
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes) plus the
 * ones Docker Hub and Distribution add (TOOMANYREQUESTS, UNAVAILABLE).
 */
export type DistributionErrorCode =
  | 'BLOB_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'BLOB_UPLOAD_UNKNOWN' | 'DIGEST_INVALID' | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID' | 'MANIFEST_UNKNOWN' | 'NAME_INVALID' | 'NAME_UNKNOWN' | 'SIZE_INVALID' | 'UNAUTHORIZED'
  | 'DENIED' | 'UNSUPPORTED' | 'TOOMANYREQUESTS' | 'UNAVAILABLE' | (string & {});

export interface DistributionError {
  readonly code: DistributionErrorCode;
  readonly message?: string;
  readonly detail?: unknown;
}

/** Which side of a copy a client talks to: names the right flags in hints. */
export type RegistrySide = 'src' | 'dest';

export interface RegistryErrorDetails extends ErrorDetails {
  readonly status?: number | undefined;
  readonly method: string;
  /** Redacted before it is stored. */
  readonly url: string;
  readonly errors?: readonly DistributionError[];
  readonly retryable?: boolean;
  /** The registry the request went to, as its client names it (`127.0.0.1:5000`, `docker.io`). */
  readonly registry?: string | undefined;
  /** The repository path inside it (`library/nginx`), when the request was about one. */
  readonly repository?: string | undefined;
}

/** A failed registry request: what the spec's error body said, on which request. Never holds secrets. */
export class RegistryError extends AirlockError {
  /** HTTP status; undefined when no response arrived (connection, TLS, timeout). */
  readonly status: number | undefined;
  readonly method: string;
  /** Redacted URL of the request. */
  readonly url: string;
  readonly errors: readonly DistributionError[];
  /** Worth another attempt (5xx, 408, 429, connection errors). */
  readonly retryable: boolean;
  /** The registry the request went to; undefined when the thrower did not say. */
  readonly registry: string | undefined;
  /** The repository path inside the registry the request was about; undefined for registry-wide requests (the API root, the catalog, a token). */
  readonly repository: string | undefined;

  constructor(code: ErrorCode, message: string, details: RegistryErrorDetails) {
    super(code, message, details);
    this.status = details.status;
    this.method = details.method;
    this.url = redactUrl(details.url);
    this.errors = details.errors ?? [];
    this.retryable = details.retryable ?? false;
    this.registry = details.registry;
    this.repository = details.repository;
  }

  /** Does the registry's error body carry `code`? */
  has(code: DistributionErrorCode): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/** Parse a distribution error body (`{"errors":[{code,message,detail}]}`); tolerant of anything else. */
export function parseErrorBody(body: Uint8Array | undefined): DistributionError[] {
  if (!body || body.byteLength === 0) return [];
  const text = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, MAX_ERROR_BODY_BYTES)).toString('utf8');
  try {
    const doc = JSON.parse(text) as { errors?: unknown; details?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    const out: DistributionError[] = [];
    for (const e of doc.errors.slice(0, 32)) {
      if (typeof e !== 'object' || e === null) continue;
      const r = e as Record<string, unknown>;
      if (typeof r.code !== 'string') continue;
      out.push({
        code: r.code.toUpperCase(),
        ...(typeof r.message === 'string' ? { message: r.message.slice(0, 500) } : {}),
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
      });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Did the registry refuse the repository itself (not the content)? 401/403, 404 NAME_UNKNOWN, or
 * NAME_INVALID (Quay's token service for nested names): what a missing Harbor project, a path too
 * deep for Quay or GitLab, or missing rights look like.
 */
export function isRepositoryRefusal(err: unknown): err is RegistryError {
  return err instanceof RegistryError && (err.code === 'AUTH' || (err.code === 'NOT_FOUND' && err.has('NAME_UNKNOWN')) ||
    err.has('NAME_INVALID') || err.has('DENIED') || err.has('UNAUTHORIZED') || err.has('NAME_UNKNOWN'));
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export interface RegistryErrorContext {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly body?: Uint8Array | undefined;
  /** `registry` or `registry/repository`, named in the message. */
  readonly where: string;
  /** Carried on the error as fields (RegistryError.registry, .repository), for callers that act on them. */
  readonly registry?: string | undefined;
  readonly repository?: string | undefined;
  readonly side?: RegistrySide | undefined;
  /** Were credentials sent? Changes "required" into "rejected". */
  readonly hadCredentials?: boolean;
  /** Where the credentials came from (flag, file path), never the credentials. */
  readonly credentialsSource?: string | undefined;
  /** What the request was about, e.g. "manifest v1" or "blob sha256:…". */
  readonly what?: string | undefined;
  /** A push: DIGEST_INVALID then means the bytes we sent do not match. */
  readonly push?: boolean;
}

function credsFlags(side: RegistrySide | undefined): string {
  if (side === 'src') return '--src-creds';
  if (side === 'dest') return '--dest-creds';
  return '--src-creds/--dest-creds';
}

/** Turn an HTTP error response into a RegistryError with the right code and a next step. */
export function registryErrorFrom(ctx: RegistryErrorContext): RegistryError {
  const errors = parseErrorBody(ctx.body);
  const has = (c: string): boolean => errors.some((e) => e.code === c);
  const first = errors[0];
  const said = first ? `${first.code}${first.message ? `: ${first.message}` : ''}` : `HTTP ${ctx.status}`;
  const base = {
    status: ctx.status, method: ctx.method, url: ctx.url, errors, where: ctx.where, retryable: isRetryableStatus(ctx.status),
    registry: ctx.registry, repository: ctx.repository,
  };
  const about = ctx.what ? `${ctx.what} in ` : '';

  if (ctx.status === 401 || has('UNAUTHORIZED')) {
    const message = ctx.hadCredentials
      ? `authentication failed for ${ctx.where}${ctx.credentialsSource ? ` with the credentials from ${ctx.credentialsSource}` : ''} (${said})`
      : `authentication required for ${ctx.where}`;
    const hint = ctx.hadCredentials
      ? `check the user name and password (or token) for ${hostOf(ctx.where)}; pass the right ones with ${credsFlags(ctx.side)} or fix your --authfile`
      : `pass ${credsFlags(ctx.side)} or add credentials for ${hostOf(ctx.where)} to your authfile (--authfile, $REGISTRY_AUTH_FILE, ~/.docker/config.json)`;
    return new RegistryError('AUTH', message, { ...base, retryable: false, hint });
  }
  if (ctx.status === 403 || has('DENIED')) {
    return new RegistryError('AUTH', `access denied to ${about}${ctx.where} (${said})`, {
      ...base,
      retryable: false,
      hint: `the account ${ctx.hadCredentials ? 'used' : '(anonymous)'} may not ${ctx.push ? 'push to' : 'read'} this repository: use credentials with ${ctx.push ? 'push' : 'pull'} rights (${credsFlags(ctx.side)}, --authfile)`,
    });
  }
  if (has('TOOMANYREQUESTS') || ctx.status === 429) {
    return new RegistryError('REGISTRY', `rate limited by ${hostOf(ctx.where)} (${said})`, {
      ...base,
      retryable: true,
      hint: 'wait and retry, lower --concurrency, or authenticate (anonymous pulls have lower limits)',
    });
  }
  if (ctx.push && (has('DIGEST_INVALID') || has('SIZE_INVALID'))) {
    return new RegistryError('DIGEST_MISMATCH', `${ctx.where} rejected ${ctx.what ?? 'the upload'}: the bytes sent do not match the digest (${said})`, {
      ...base,
      retryable: false,
      hint: 'the source content is damaged or changed while it was read; verify the source and copy again',
    });
  }
  if (ctx.status === 404 || has('MANIFEST_UNKNOWN') || has('NAME_UNKNOWN') || has('BLOB_UNKNOWN')) {
    const what = has('NAME_UNKNOWN') ? `repository ${ctx.where} not found` : `${ctx.what ?? 'content'} not found in ${ctx.where}`;
    return new RegistryError('NOT_FOUND', `${what} (${said})`, {
      ...base,
      retryable: false,
      hint: has('NAME_UNKNOWN')
        ? 'check the repository name (and the registry path prefix); the account may also lack access to it'
        : 'check the tag or digest; the content may have been deleted or never pushed',
    });
  }
  if (has('MANIFEST_INVALID') || has('MANIFEST_BLOB_UNKNOWN') || has('UNSUPPORTED')) {
    return new RegistryError('REGISTRY', `${ctx.where} rejected ${ctx.what ?? 'the request'} (${said})`, {
      ...base,
      retryable: false,
      hint: has('MANIFEST_BLOB_UNKNOWN')
        ? 'a blob the manifest refers to is missing in the target: push the blobs first'
        : 'the registry may not support this media type or OCI artifacts; run `airlock registry probe` against it',
    });
  }
  return new RegistryError('REGISTRY', `${ctx.method} ${about}${ctx.where} failed: ${said}`, {
    ...base,
    hint: base.retryable
      ? `the registry ${hostOf(ctx.where)} is failing or overloaded; retry later`
      : `the registry ${hostOf(ctx.where)} refused the request; run with --verbose for details`,
  });
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'HOSTNAME_MISMATCH', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_PACKET_LENGTH_TOO_LONG',
]);

/** Codes that mean the TLS handshake itself failed: retrying cannot help. */
export function isTlsFailure(err: unknown): boolean {
  const code = errCode(err);
  return code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
}

export function errCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR_SOCKET' && c !== 'UND_ERR_CONNECT') return c;
    e = (e as { cause?: unknown }).cause;
  }
  const c = (err as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

export interface TransportErrorContext {
  readonly method: string;
  readonly url: string;
  readonly where: string;
  readonly registry?: string | undefined;
  readonly repository?: string | undefined;
  readonly side?: RegistrySide | undefined;
  readonly https: boolean;
  readonly hasClientCert: boolean;
  /** No response has ever arrived from this host: a closed socket then points at the handshake. */
  readonly neverConnected: boolean;
  readonly attempts: number;
}

/** Turn a connection-level failure (no HTTP response) into a coded error with a next step. */
export function transportErrorFrom(err: unknown, ctx: TransportErrorContext): RegistryError {
  if (err instanceof RegistryError) return err;
  const code = errCode(err) ?? 'UNKNOWN';
  const certFlag = ctx.side === 'src' ? '--src-cert-dir' : ctx.side === 'dest' ? '--dest-cert-dir' : '--src-cert-dir/--dest-cert-dir';
  const verifyFlag = ctx.side === 'src' ? '--src-tls-verify=false' : ctx.side === 'dest' ? '--dest-tls-verify=false' : '--src-tls-verify=false/--dest-tls-verify=false';
  const base = { method: ctx.method, url: ctx.url, where: ctx.where, registry: ctx.registry, repository: ctx.repository, cause: err, status: undefined };
  const host = hostOf(ctx.where);
  if (ctx.https && isTlsFailure(err)) {
    const clientSide = /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE/.test(code);
    const plainHttp = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/.test(code);
    return new RegistryError('TLS', `TLS connection to ${host} failed (${code})`, {
      ...base,
      retryable: false,
      hint: clientSide
        ? `the registry rejected the client certificate: put a client.cert/client.key pair it trusts in ${certFlag}`
        : plainHttp
          ? `${host} seems to speak plain HTTP: use ${verifyFlag} or \`tls: plain-http\` for it in the mirror list`
          : `the registry's certificate is not trusted: put its CA (*.crt) in ${certFlag}, or use \`tls: skip-verify\` (${verifyFlag}) for testing only`,
    });
  }
  // undici: a server that demands a client certificate just closes the socket after the handshake
  // (docs/ARCHITECTURE.md "undici 7": UND_ERR_SOCKET "other side closed").
  const message = err instanceof Error ? err.message : String(err);
  if (ctx.https && ctx.neverConnected && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') && /other side closed|socket hang up|ECONNRESET/i.test(`${message} ${code}`)) {
    return new RegistryError('TLS', `TLS connection to ${host} was closed by the registry during the handshake`, {
      ...base,
      retryable: false,
      hint: ctx.hasClientCert
        ? `the registry did not accept the client certificate from ${certFlag}: check that its CA trusts it`
        : `the registry probably requires a client certificate (mTLS): put client.cert and client.key in ${certFlag}`,
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    return new RegistryError('NETWORK', `${ctx.method} to ${host} timed out after ${ctx.attempts} attempt(s) (${code})`, {
      ...base,
      retryable: true,
      hint: 'the registry or the network is slow or stalled; check connectivity and retry',
    });
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new RegistryError('NETWORK', `cannot reach registry ${host} (${code})`, {
      ...base,
      retryable: true,
      hint: code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `check the registry name ${host} and DNS` : `check that the registry at ${host} is running and the port is right`,
    });
  }
  return new RegistryError('NETWORK', `connection to ${host} failed after ${ctx.attempts} attempt(s) (${code}: ${message.slice(0, 200)})`, {
    ...base,
    retryable: true,
    hint: 'the connection was interrupted; check the network and retry',
  });
}

function hostOf(where: string): string {
  const i = where.indexOf('/');
  return i < 0 ? where : where.slice(0, i);
}
