/**
 * Offline verification of a Sigstore bundle (https://github.com/sigstore/protobuf-specs,
 * `sigstore_bundle.proto`) with @sigstore/verify@3: by a public key, or keyless against a trusted
 * root with an identity policy. Nothing here touches the network: the trust material is either the
 * keys the user named or a trusted_root.json file (never a TUF fetch).
 */
import { readFile } from 'node:fs/promises';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import {
  PolicyError,
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier,
  type SignedEntity,
  type TrustMaterial,
  type VerificationPolicy,
} from '@sigstore/verify';
import { AirlockError, type ErrorCode } from '../errors.js';
import type { VerificationKey } from './keys.js';

/** Keyless (Fulcio certificate) policy: which identity, from which OIDC issuer, under which root. */
export interface KeylessPolicy {
  /** trusted_root.json (Sigstore TrustedRoot, JSON): Fulcio CAs, Rekor and CT log keys, TSAs. */
  readonly trustedRootPath: string;
  /** The certificate's SAN exactly (email or URI). One of identity / identityRegexp is required. */
  readonly identity?: string;
  /**
   * A regular expression the SAN must match. Unanchored, as cosign's `--certificate-identity-regexp`
   * (Go `regexp.MatchString`): `example\.com` matches anywhere in the SAN; write `^...$` for the
   * whole of it. JavaScript syntax (RE2's constructs that JavaScript lacks are refused).
   */
  readonly identityRegexp?: string;
  /** The OIDC issuer exactly, e.g. https://token.actions.githubusercontent.com. This or issuerRegexp is required. */
  readonly issuer?: string;
  /** The OIDC issuer as an unanchored regular expression (cosign `--certificate-oidc-issuer-regexp`). */
  readonly issuerRegexp?: string;
}

export type SignatureMethod = 'key' | 'keyless';

export interface VerifiedSigner {
  readonly method: SignatureMethod;
  /** Key fingerprint (`sha256:<hex>`) or certificate identity (SAN). */
  readonly signer: string;
  readonly issuer?: string;
}

/** Who the bundle claims signed it, before anything is verified (for `bundle inspect`). */
export interface ClaimedSigner {
  readonly method: SignatureMethod;
  readonly signer: string;
  readonly issuer?: string;
}

export interface VerifySigstoreOptions {
  /** Any one of these keys suffices (for public-key bundles). */
  readonly keys: readonly VerificationKey[];
  readonly keyless?: KeylessPolicy | undefined;
  /** Message-signature bundles sign these bytes: the verifier needs them. DSSE bundles do not. */
  readonly artifact?: Buffer | undefined;
  /** The error code of every verification failure (ours or an upstream vendor's). */
  readonly code: Extract<ErrorCode, 'SIGNATURE_INVALID' | 'UPSTREAM_SIGNATURE_INVALID'>;
  /** For messages: the bundle entry or signature artifact being checked. */
  readonly where?: string | undefined;
}

/** Fulcio certificate extension OIDs: https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md */
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

export function parseSigstoreBundle(bytes: Buffer, code: VerifySigstoreOptions['code'], where?: string): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw signatureError(code, 'malformed Sigstore bundle: not JSON', where, err);
  }
  try {
    return bundleFromJSON(json);
  } catch (err) {
    const fields = (err as { fields?: unknown }).fields;
    throw signatureError(
      code,
      `malformed Sigstore bundle${Array.isArray(fields) && fields.length > 0 ? `: bad ${fields.join(', ')}` : ''}`,
      where,
      err,
    );
  }
}

/** The signer a bundle names, unverified. */
export function claimedSigner(bundle: Bundle): ClaimedSigner {
  const vm = bundle.verificationMaterial.content;
  switch (vm?.$case) {
    case 'publicKey':
      return { method: 'key', signer: vm.publicKey.hint };
    case 'certificate':
    case 'x509CertificateChain': {
      const raw = vm.$case === 'certificate' ? vm.certificate.rawBytes : vm.x509CertificateChain.certificates[0]?.rawBytes;
      try {
        const cert = X509Certificate.parse(Buffer.from(raw ?? []));
        const issuer = certificateIssuer(cert);
        return { method: 'keyless', signer: cert.subjectAltName ?? '(no identity)', ...(issuer ? { issuer } : {}) };
      } catch {
        return { method: 'keyless', signer: '(unreadable certificate)' };
      }
    }
    default:
      return { method: 'key', signer: '(no verification material)' };
  }
}

function certificateIssuer(cert: X509Certificate): string | undefined {
  const v2 = cert.extension(OID_FULCIO_ISSUER_V2);
  if (v2) return v2.valueObj.subs[0]?.value.toString('ascii');
  return cert.extension(OID_FULCIO_ISSUER_V1)?.value.toString('ascii');
}

/**
 * Verify the bundle's signature and the signer's trust. Does NOT look at what was signed (the DSSE
 * payload): the caller must bind the payload to its artifact (see docs/ARCHITECTURE.md "Sigstore").
 */
export async function verifySigstoreSignature(bundle: Bundle, opts: VerifySigstoreOptions): Promise<VerifiedSigner> {
  if (bundle.content.$case === 'messageSignature' && opts.artifact === undefined) {
    throw signatureError(opts.code, 'the bundle holds a message signature but the signed artifact was not supplied', opts.where);
  }
  const vm = bundle.verificationMaterial.content;
  switch (vm?.$case) {
    case 'publicKey':
      return verifyByKey(bundle, vm.publicKey.hint, opts);
    case 'certificate':
    case 'x509CertificateChain':
      return verifyKeyless(bundle, opts);
    default:
      throw signatureError(opts.code, 'malformed Sigstore bundle: no verification material', opts.where);
  }
}

async function verifyByKey(bundle: Bundle, hint: string, opts: VerifySigstoreOptions): Promise<VerifiedSigner> {
  if (opts.keys.length === 0) {
    throw signatureError(unverifiedCode(opts.code), `signed with key ${hint || '(no hint)'}, but no public key was given to verify it`, opts.where, undefined, 'pass the signer\'s public key with --verify-key (or --key)');
  }
  // The hint is unauthenticated: it only picks which key to try first. Other tools choose other
  // hints, so when none matches every trusted key is tried; only a valid signature counts.
  const byHint = opts.keys.filter((k) => k.fingerprint === hint);
  const candidates = byHint.length > 0 ? byHint : opts.keys;
  // A trusted root, when given, lets the verifier check the bundle's Rekor entries and TSA
  // timestamps too. Without one they cannot be checked offline, so they are set aside: the trust
  // decision rests on the key alone (our own key bundles carry none).
  const root = opts.keyless ? await loadTrustedRoot(opts.keyless.trustedRootPath) : undefined;
  let entity = toSignedEntity(bundle, opts.artifact);
  if (!root) entity = { ...entity, tlogEntries: [], timestamps: [] } satisfies SignedEntity;
  let lastError: unknown;
  for (const key of candidates) {
    const trust: TrustMaterial = {
      ...(root ?? emptyTrustMaterial()),
      publicKey: () => ({ publicKey: key.publicKey, validFor: () => true }),
    };
    try {
      new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
      return { method: 'key', signer: key.fingerprint };
    } catch (err) {
      lastError = err;
    }
  }
  if (byHint.length === 0) {
    throw signatureError(
      opts.code,
      `unknown key: signed by ${hint || 'a key with no hint'}, which is none of the ${opts.keys.length} trusted key(s)`,
      opts.where,
      lastError,
      'pass the public key that made this signature with --verify-key',
    );
  }
  throw signatureError(opts.code, `bad signature: ${describeVerifierError(lastError)}`, opts.where, lastError, 'the signature does not match its content: the bundle was altered or damaged; copy it again from the source');
}

async function verifyKeyless(bundle: Bundle, opts: VerifySigstoreOptions): Promise<VerifiedSigner> {
  const claimed = claimedSigner(bundle);
  if (!opts.keyless) {
    throw signatureError(
      unverifiedCode(opts.code),
      `signed keyless by ${claimed.signer}${claimed.issuer ? ` (issuer ${claimed.issuer})` : ''}, but no trusted root and identity policy were given`,
      opts.where,
      undefined,
      'pass --trusted-root with --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer',
    );
  }
  const policy = toVerificationPolicy(opts.keyless);
  const issuerRegexp = opts.keyless.issuerRegexp ? new RegExp(opts.keyless.issuerRegexp) : undefined;
  const root = await loadTrustedRoot(opts.keyless.trustedRootPath);
  // At least one timestamp (Rekor integrated time or RFC 3161) is required: the certificate lives
  // ten minutes and must be checked at signing time. With 0, @sigstore/verify@3 crashes with a
  // TypeError on a bundle that has none (docs/ARCHITECTURE.md "Sigstore").
  const verifier = new Verifier(root, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  let identity: { subjectAlternativeName?: string; extensions?: { issuer?: string } } | undefined;
  try {
    identity = verifier.verify(toSignedEntity(bundle, opts.artifact), policy).identity;
  } catch (err) {
    if (err instanceof PolicyError) {
      throw signatureError(
        opts.code,
        `signer ${claimed.signer} (issuer ${claimed.issuer ?? 'unknown'}) does not match the identity policy`,
        opts.where,
        err,
        'check --certificate-identity / --certificate-identity-regexp and --certificate-oidc-issuer against the signer shown',
      );
    }
    throw signatureError(opts.code, `keyless signature does not verify: ${describeVerifierError(err)}`, opts.where, err, 'check that --trusted-root is the root of the Sigstore instance that signed (e.g. the public-good trusted_root.json)');
  }
  const signer = identity?.subjectAlternativeName ?? claimed.signer;
  const issuer = identity?.extensions?.issuer;
  // @sigstore/verify compares the issuer exactly; a pattern is checked here, on the verified certificate.
  if (issuerRegexp && (issuer === undefined || !issuerRegexp.test(issuer))) {
    throw signatureError(
      opts.code,
      `signer ${signer} (issuer ${issuer ?? 'unknown'}) does not match the identity policy: the issuer does not match ${opts.keyless.issuerRegexp}`,
      opts.where,
      undefined,
      'check --certificate-oidc-issuer-regexp against the issuer shown',
    );
  }
  return { method: 'keyless', signer, ...(issuer ? { issuer } : {}) };
}

/**
 * The library's policy from ours. @sigstore/verify matches the SAN as an unanchored JavaScript
 * regular expression. That is cosign's meaning of `--certificate-identity-regexp` (Go
 * `regexp.MatchString`, unanchored), so a user's pattern is passed as written; an exact identity is
 * escaped and anchored so that `dehamer` cannot accept `brian@dehamer.com` (docs/ARCHITECTURE.md "Sigstore").
 * The issuer is compared exactly by the library; an issuer pattern is checked after verification.
 */
export function toVerificationPolicy(p: KeylessPolicy): VerificationPolicy {
  if (p.identity !== undefined && p.identityRegexp !== undefined) {
    throw new AirlockError('USAGE', 'give either --certificate-identity or --certificate-identity-regexp, not both');
  }
  if (p.issuer !== undefined && p.issuerRegexp !== undefined) {
    throw new AirlockError('USAGE', 'give either --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
  }
  let san: string;
  if (p.identity !== undefined && p.identity !== '') {
    san = `^${escapeRegExp(p.identity)}$`;
  } else if (p.identityRegexp !== undefined && p.identityRegexp !== '') {
    checkRegExp(p.identityRegexp, '--certificate-identity-regexp');
    san = p.identityRegexp;
  } else {
    throw new AirlockError('USAGE', 'keyless verification needs an identity', {
      hint: 'pass --certificate-identity (exact) or --certificate-identity-regexp',
    });
  }
  if (p.issuerRegexp !== undefined && p.issuerRegexp !== '') {
    checkRegExp(p.issuerRegexp, '--certificate-oidc-issuer-regexp');
    return { subjectAlternativeName: san };
  }
  if (p.issuer === undefined || p.issuer === '') {
    throw new AirlockError('USAGE', 'keyless verification needs the OIDC issuer', {
      hint: 'pass --certificate-oidc-issuer (exact, e.g. https://token.actions.githubusercontent.com) or --certificate-oidc-issuer-regexp',
    });
  }
  return { subjectAlternativeName: san, extensions: { issuer: p.issuer } };
}

function checkRegExp(pattern: string, flag: string): void {
  try {
    new RegExp(pattern);
  } catch (err) {
    throw new AirlockError('USAGE', `${flag} is not a valid regular expression: ${pattern}`, { cause: err });
  }
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const trustedRoots = new Map<string, Promise<TrustMaterial>>();

/** Read trusted_root.json once per path. A local file only: never a TUF update. */
export function loadTrustedRoot(path: string): Promise<TrustMaterial> {
  let p = trustedRoots.get(path);
  if (!p) {
    p = readTrustedRoot(path);
    trustedRoots.set(path, p);
    p.catch(() => trustedRoots.delete(path));
  }
  return p;
}

async function readTrustedRoot(path: string): Promise<TrustMaterial> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AirlockError('USAGE', `cannot read the trusted root ${path}`, {
      cause: err,
      where: path,
      hint: 'pass a Sigstore trusted_root.json with --trusted-root',
    });
  }
  // Loaded here, for keyless only: key verification never needs the protobuf types. CommonJS:
  // `default` is its exports under Node's import and in the bundled CLI's split chunk alike (the
  // chunk exports `default` alone, so a named import came back undefined there).
  const { TrustedRoot } = (await import('@sigstore/protobuf-specs')).default;
  try {
    const json = JSON.parse(text) as { mediaType?: unknown };
    if (typeof json.mediaType !== 'string' || !json.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
      throw new Error(`mediaType ${String(json.mediaType)} is not a Sigstore trusted root`);
    }
    return toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (err) {
    throw new AirlockError('USAGE', `${path} is not a Sigstore trusted root`, {
      cause: err,
      where: path,
      hint: 'pass a trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json)',
    });
  }
}

function emptyTrustMaterial(): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: () => {
      throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: 'no public key' });
    },
  };
}

function describeVerifierError(err: unknown): string {
  if (err instanceof VerificationError) {
    switch (err.code) {
      case 'SIGNATURE_ERROR':
        return 'the signature does not match the signed content';
      case 'PUBLIC_KEY_ERROR':
        return 'the signing key is not trusted';
      case 'CERTIFICATE_ERROR':
        return `the certificate does not chain to the trusted root (${err.message})`;
      case 'TIMESTAMP_ERROR':
        return `timestamp check failed (${err.message})`;
      default:
        return `transparency log check failed (${err.message})`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Nothing to verify with is not a bad signature: the bundle may be fine, the command lacks the key.
 * Vendor signatures keep their one code.
 */
function unverifiedCode(code: VerifySigstoreOptions['code']): SignatureErrorCode {
  return code === 'SIGNATURE_INVALID' ? 'SIGNATURE_UNVERIFIED' : code;
}

type SignatureErrorCode = VerifySigstoreOptions['code'] | 'SIGNATURE_UNVERIFIED';

export function signatureError(code: SignatureErrorCode, message: string, where: string | undefined, cause?: unknown, hint?: string): AirlockError {
  return new AirlockError(code, message, {
    ...(cause !== undefined ? { cause } : {}),
    ...(where ? { where } : {}),
    ...(hint ? { hint } : {}),
  });
}
