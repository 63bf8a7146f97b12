/**
 * Keyless signing (https://docs.sigstore.dev/cosign/signing/overview/): an ephemeral key, a
 * short-lived Fulcio certificate for the identity in an OIDC token, a Rekor entry, and optionally
 * an RFC 3161 timestamp. This is the only part of Airlock that talks to Sigstore services, and only
 * on the connected side, at export, when asked (`--keyless`).
 */
import { readFile } from 'node:fs/promises';
import { bundleToJSON } from '@sigstore/bundle';
import { AirlockError } from '../errors.js';
import { MEDIA_TYPE_IN_TOTO } from '../oci/index.js';

/** Public-good Sigstore (the same defaults as cosign). */
export const DEFAULT_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const DEFAULT_REKOR_URL = 'https://rekor.sigstore.dev';

/** The ambient token variable cosign and sigstore-js read (cosign pkg/providers/envvar). */
export const IDENTITY_TOKEN_ENV = 'SIGSTORE_ID_TOKEN';

export interface KeylessSigningOptions {
  /** `--identity-token FILE`: the OIDC token (a JWT). Default: the ambient CI token (SIGSTORE_ID_TOKEN, GitHub Actions). */
  readonly identityTokenPath?: string | undefined;
  /** Default DEFAULT_FULCIO_URL. */
  readonly fulcioUrl?: string | undefined;
  /** Default DEFAULT_REKOR_URL. */
  readonly rekorUrl?: string | undefined;
  /** RFC 3161 timestamp authority; default none (Rekor's integrated time is the timestamp). */
  readonly tsaUrl?: string | undefined;
  /** Per request. Default 30 s. */
  readonly timeoutMs?: number | undefined;
}

/** Read `--identity-token FILE` now, so a missing or empty file is bad input before any download. */
export async function readIdentityToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AirlockError('USAGE', `cannot read the identity token ${path}`, {
      cause: err, where: path, hint: 'pass a file holding the OIDC token (a JWT) with --identity-token',
    });
  }
  const token = text.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new AirlockError('USAGE', `${path} does not hold an OIDC token (a JWT: three base64url parts separated by dots)`, {
      where: path, hint: 'write the raw token into the file, e.g. the value of SIGSTORE_ID_TOKEN',
    });
  }
  return token;
}

/**
 * Throw USAGE unless a token can be had without `--identity-token`: SIGSTORE_ID_TOKEN, or a GitHub
 * Actions job allowed to request one. Only checked early; the token itself is fetched when signing,
 * since CI tokens live minutes and an export can take longer.
 */
export function assertAmbientIdentityToken(): void {
  const env = process.env;
  if (env[IDENTITY_TOKEN_ENV]) return;
  if (env['ACTIONS_ID_TOKEN_REQUEST_URL'] && env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']) return;
  throw new AirlockError('USAGE', '--keyless needs an OIDC identity token and none was found', {
    hint: `pass --identity-token FILE, or set ${IDENTITY_TOKEN_ENV}, or run in a GitHub Actions job with "id-token: write"`,
  });
}

/**
 * A Sigstore bundle v0.3 holding a DSSE envelope over `statement`, signed keyless. Throws AUTH when
 * Fulcio refuses the token, NETWORK when a service cannot be reached or answers with an error.
 */
export async function signStatementKeyless(statement: unknown, opts: KeylessSigningOptions): Promise<Buffer> {
  // CommonJS: `default` holds its exports, under Node and in the bundled CLI's split chunk alike.
  const { CIContextProvider, DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } = (await import('@sigstore/sign')).default;
  const token = opts.identityTokenPath !== undefined ? await readIdentityToken(opts.identityTokenPath) : undefined;
  const ambient = new CIContextProvider('sigstore');
  const identityProvider = {
    getToken: async (): Promise<string> => {
      if (token !== undefined) return token;
      try {
        return await ambient.getToken();
      } catch (err) {
        throw new AirlockError('USAGE', '--keyless needs an OIDC identity token and none was found', {
          cause: err,
          hint: `pass --identity-token FILE, or set ${IDENTITY_TOKEN_ENV}, or run in a GitHub Actions job with "id-token: write"`,
        });
      }
    },
  };
  const timeout = opts.timeoutMs ?? 30_000;
  const fetchOptions = { timeout, retry: 2 };
  const signer = new FulcioSigner({ identityProvider, fulcioBaseURL: opts.fulcioUrl ?? DEFAULT_FULCIO_URL, ...fetchOptions });
  const witnesses = [
    // `intoto` entries: accepted by every Rekor v1 (the public-good log and private ones alike), and
    // by @sigstore/mock's Rekor, which stores the proposed entry as sent; a `dsse` entry's body is
    // rewritten by a real Rekor before it is logged, so the mock cannot produce one that verifies.
    new RekorWitness({ rekorBaseURL: opts.rekorUrl ?? DEFAULT_REKOR_URL, entryType: 'intoto', ...fetchOptions }),
    ...(opts.tsaUrl ? [new TSAWitness({ tsaBaseURL: opts.tsaUrl, ...fetchOptions })] : []),
  ];
  try {
    const bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({
      data: Buffer.from(JSON.stringify(statement), 'utf8'),
      type: MEDIA_TYPE_IN_TOTO,
    });
    return Buffer.from(`${JSON.stringify(bundleToJSON(bundle), null, 2)}\n`, 'utf8');
  } catch (err) {
    throw translateSignError(err, opts);
  }
}

function translateSignError(err: unknown, opts: KeylessSigningOptions): unknown {
  if (err instanceof AirlockError) return err;
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof AirlockError) return cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : err instanceof Error ? `: ${err.message}` : '';
  switch (code) {
    case 'IDENTITY_TOKEN_READ_ERROR':
    case 'IDENTITY_TOKEN_PARSE_ERROR':
      return new AirlockError('USAGE', `the OIDC identity token is unusable${detail}`, { cause: err, hint: 'pass a fresh token with --identity-token FILE' });
    case 'CA_CREATE_SIGNING_CERTIFICATE_ERROR':
      return new AirlockError(/\b(401|403)\b/.test(detail) ? 'AUTH' : 'NETWORK', `Fulcio (${opts.fulcioUrl ?? DEFAULT_FULCIO_URL}) issued no signing certificate${detail}`, {
        cause: err, hint: 'check that the token is fresh and meant for audience "sigstore", and that --fulcio-url is reachable',
      });
    case 'TLOG_CREATE_ENTRY_ERROR':
    case 'TLOG_FETCH_ENTRY_ERROR':
      return new AirlockError('NETWORK', `Rekor (${opts.rekorUrl ?? DEFAULT_REKOR_URL}) did not log the signature${detail}`, { cause: err, hint: 'check that --rekor-url is reachable; nothing was written' });
    case 'TSA_CREATE_TIMESTAMP_ERROR':
      return new AirlockError('NETWORK', `the timestamp authority (${opts.tsaUrl ?? ''}) gave no timestamp${detail}`, { cause: err, hint: 'check --tsa-url, or drop it to rely on Rekor\'s time' });
    default:
      return err;
  }
}
