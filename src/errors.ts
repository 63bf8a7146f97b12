/**
 * One error type for the whole tool. Every code maps to exactly one exit code of the contract
 * (README "Exit codes and troubleshooting"); the CLI's top-level catch is the only place that maps.
 */
export const EXIT = { ok: 0, runtime: 1, badInput: 2, verification: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const CODES = {
  // exit 2: bad input
  USAGE: EXIT.badInput,
  MIRROR_INVALID: EXIT.badInput,
  REFERENCE_INVALID: EXIT.badInput,
  DIGEST_INVALID: EXIT.badInput,
  MANIFEST_INVALID: EXIT.badInput,
  BUNDLE_UNREADABLE: EXIT.badInput,
  BUNDLE_VERSION: EXIT.badInput,
  KEY_INVALID: EXIT.badInput,
  MAPPING_CONFLICT: EXIT.badInput,
  /** The target refuses repository paths as deep as the mapping makes them (Quay, GitLab): another --to prefix or --layout. */
  PATH_TOO_DEEP: EXIT.badInput,
  LOCK_MISMATCH: EXIT.badInput,
  PLATFORM_UNAVAILABLE: EXIT.badInput,
  /** The `--policy` file: errors at file:line:col, as the mirror list's. */
  POLICY_INVALID: EXIT.badInput,
  // exit 3: verification failed
  DIGEST_MISMATCH: EXIT.verification,
  SIZE_MISMATCH: EXIT.verification,
  SIGNATURE_INVALID: EXIT.verification,
  SIGNATURE_MISSING: EXIT.verification,
  /** Signed, but nothing to check the signature with was given (no --verify-key, no keyless policy). */
  SIGNATURE_UNVERIFIED: EXIT.verification,
  UPSTREAM_SIGNATURE_INVALID: EXIT.verification,
  BUNDLE_INCOMPLETE: EXIT.verification,
  BUNDLE_TAMPERED: EXIT.verification,
  BASE_MISSING: EXIT.verification,
  UNSAFE_ARCHIVE_ENTRY: EXIT.verification,
  /** An import `--policy` rule refuses one or more artifacts: nothing was pushed. */
  POLICY_VIOLATION: EXIT.verification,
  // exit 1: runtime
  REGISTRY: EXIT.runtime,
  AUTH: EXIT.runtime,
  NETWORK: EXIT.runtime,
  TLS: EXIT.runtime,
  NOT_FOUND: EXIT.runtime,
  /** Harbor: the project (first path component) that a repository needs does not exist. */
  PROJECT_MISSING: EXIT.runtime,
  /** The target refuses a manifest media type the bundle needs (OCI index, OCI or Docker manifest). */
  MEDIA_TYPE_UNSUPPORTED: EXIT.runtime,
  IO: EXIT.runtime,
  NOT_IMPLEMENTED: EXIT.runtime,
  ABORTED: EXIT.runtime,
  INTERNAL: EXIT.runtime,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof CODES;

export interface ErrorDetails {
  /** The underlying failure; never flattened into the message. */
  readonly cause?: unknown;
  /** What the user should do next. */
  readonly hint?: string;
  /** file:line:col, bundle entry, digest, registry/repository. */
  readonly where?: string;
}

export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly where: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = details.hint;
    this.where = details.where;
  }

  get exitCode(): ExitCode {
    return CODES[this.code];
  }
}

/** A digest or size check failed while bytes were streaming. */
export class DigestMismatchError extends AirlockError {
  readonly expected: string;
  readonly actual: string;
  readonly bytesRead: number;
  constructor(expected: string, actual: string, bytesRead: number, details: ErrorDetails = {}) {
    super('DIGEST_MISMATCH', `digest mismatch: expected ${expected}, got ${actual} after ${bytesRead} bytes`, details);
    this.expected = expected;
    this.actual = actual;
    this.bytesRead = bytesRead;
  }
}

export class SizeMismatchError extends AirlockError {
  /** The digest of the content whose size was wrong. */
  readonly digest: string;
  readonly expected: number;
  readonly actual: number;
  constructor(digest: string, expected: number, actual: number, details: ErrorDetails = {}) {
    super(
      'SIZE_MISMATCH',
      actual > expected
        ? `${digest}: more than the expected ${expected} bytes`
        : `${digest}: expected ${expected} bytes, got ${actual}`,
      details,
    );
    this.digest = digest;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The digest a DigestMismatchError or SizeMismatchError is about; undefined for any other error. */
export function mismatchedDigest(err: unknown): string | undefined {
  if (err instanceof DigestMismatchError) return err.expected;
  if (err instanceof SizeMismatchError) return err.digest;
  return undefined;
}

/** Many problems found in one pass (mirror list validation, `bundle verify`). */
export class MultiError extends AirlockError {
  readonly problems: readonly AirlockError[];
  constructor(code: ErrorCode, message: string, problems: readonly AirlockError[], details: ErrorDetails = {}) {
    super(code, message, details);
    this.problems = problems;
  }
}

export function isAirlockError(err: unknown): err is AirlockError {
  return err instanceof AirlockError;
}

export function exitCodeOf(err: unknown): ExitCode {
  return isAirlockError(err) ? err.exitCode : EXIT.runtime;
}

/** Turn an AbortSignal's reason into a coded error. */
export function abortError(signal: AbortSignal): AirlockError {
  if (isAirlockError(signal.reason)) return signal.reason;
  return new AirlockError('ABORTED', 'operation cancelled', { cause: signal.reason });
}

export function assertNever(value: never, what = 'value'): never {
  throw new AirlockError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`);
}

/**
 * A .tar.zst whose zstd stream is not what it must be (the decoder refused it, or a raw block
 * header is not the one the bundle format puts there): BUNDLE_UNREADABLE, one message and hint
 * wherever the stream is read (decoder, decoding worker, range reader, hashing workers).
 */
export function zstdDamaged(detail: string, where: string, cause?: unknown): AirlockError {
  return new AirlockError('BUNDLE_UNREADABLE', `the zstd stream is damaged: ${detail}`, {
    where,
    ...(cause !== undefined ? { cause } : {}),
    hint: 'the file is damaged or is not an airlock bundle: copy it again and check it against checksums.txt',
  });
}

/** Wrap a Node.js filesystem error with a path and a hint; keeps the errno in `cause`. */
export function ioError(err: unknown, action: string, path: string): AirlockError {
  if (isAirlockError(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const hints: Record<string, string> = {
    ENOSPC: 'the disk is full: free space or choose another output location',
    EACCES: 'permission denied: check the file permissions or run as a user who may write there',
    EROFS: 'the filesystem is read-only',
    ENOENT: 'no such file or directory: check the path',
    EISDIR: 'a directory is in the way: choose another path',
  };
  return new AirlockError('IO', `cannot ${action} ${path}${code ? ` (${code})` : ''}`, {
    cause: err,
    where: path,
    ...(code && hints[code] ? { hint: hints[code] } : {}),
  });
}
