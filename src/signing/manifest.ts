/**
 * The signature on airlock.json (docs/ARCHITECTURE.md "The bundle format"): airlock.sigstore.json is a Sigstore
 * bundle v0.3 holding a DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md)
 * over an in-toto statement whose only subject is airlock.json and its sha256 digest.
 */
import { sign as cryptoSign } from 'node:crypto';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
// @sigstore/sign is loaded only when signing: it costs ~0.1 CPU-s to load, and verify, inspect
// and import never sign airlock.json (docs/BENCHMARKS.md "verify and startup").
import type { Signer } from '@sigstore/sign';
import { AIRLOCK_JSON, AIRLOCK_SIGNATURE } from '../bundle/index.js';
import { AirlockError, isAirlockError } from '../errors.js';
import { MEDIA_TYPE_IN_TOTO } from '../oci/index.js';
import type { SigningKey, VerificationKey } from './keys.js';
import { signStatementKeyless, type KeylessSigningOptions } from './keyless.js';
import {
  claimedSigner,
  parseSigstoreBundle,
  signatureError,
  verifySigstoreSignature,
  type KeylessPolicy,
  type SignatureMethod,
} from './sigstore.js';
import {
  AIRLOCK_PREDICATE_TYPE,
  createAirlockStatement,
  parseStatement,
  readAirlockPredicate,
  sha256Hex,
  type AirlockPredicate,
} from './statement.js';

export interface SignBundleManifestOptions {
  /** The exact bytes of airlock.json as written into the bundle. */
  readonly airlockJson: Buffer;
  /** `sha256:<hex>` of airlock.json (the bundle id); checked against the bytes. */
  readonly bundleId: string;
  /** Ids of the base bundles/receipts of a delta bundle; empty for a full bundle. */
  readonly baseIds: readonly string[];
  readonly toolVersion: string;
  /** Sign with this key, offline. One of key / keyless. */
  readonly key?: SigningKey | undefined;
  /** Sign keyless (Fulcio, Rekor, optionally a TSA): the only signing that goes to the network. */
  readonly keyless?: KeylessSigningOptions | undefined;
}

/** Sign airlock.json with a key (offline) or keyless: returns airlock.sigstore.json's bytes. */
export async function signBundleManifest(opts: SignBundleManifestOptions): Promise<Buffer> {
  const hex = sha256Hex(opts.airlockJson);
  if (opts.bundleId !== `sha256:${hex}`) {
    throw new AirlockError('INTERNAL', `bundle id ${opts.bundleId} is not the digest of airlock.json (sha256:${hex})`);
  }
  const statement = createAirlockStatement(opts.airlockJson, {
    bundleId: opts.bundleId,
    bases: opts.baseIds,
    toolVersion: opts.toolVersion,
  });
  if (opts.key) return signStatement(statement, opts.key);
  if (opts.keyless) return signStatementKeyless(statement, opts.keyless);
  throw new AirlockError('INTERNAL', 'signBundleManifest needs a key or keyless options');
}

/**
 * Check a keyless signature just made against `trustedRootPath`, for the identity and issuer its
 * own certificate names: it proves the signature, its Rekor entry and timestamps verify offline
 * under that root, as the site will verify them. Throws SIGNATURE_INVALID.
 */
export async function checkKeylessSignature(airlockJson: Buffer, signature: Buffer, trustedRootPath: string): Promise<{ signer: string; issuer?: string }> {
  const claimed = claimedSigner(parseSigstoreBundle(signature, 'SIGNATURE_INVALID', AIRLOCK_SIGNATURE));
  if (claimed.method !== 'keyless' || claimed.issuer === undefined) {
    throw new AirlockError('SIGNATURE_INVALID', 'the new signature has no Fulcio certificate naming an OIDC issuer', { where: AIRLOCK_SIGNATURE });
  }
  try {
    const status = await checkBundleManifest(airlockJson, signature, {
      keys: [], insecureSkipSignature: false, keyless: { trustedRootPath, identity: claimed.signer, issuer: claimed.issuer },
    });
    return { signer: status.signer ?? claimed.signer, ...(status.issuer ? { issuer: status.issuer } : {}) };
  } catch (err) {
    if (isAirlockError(err) && err.code === 'SIGNATURE_INVALID') {
      throw new AirlockError('SIGNATURE_INVALID', `the new keyless signature does not verify against ${trustedRootPath}: ${err.message}`, {
        cause: err, where: trustedRootPath,
        hint: 'the Fulcio, Rekor or TSA that signed are not the ones this trusted root describes: check --fulcio-url, --rekor-url and --tsa-url; no bundle was written',
      });
    }
    throw err;
  }
}

/** What the importer trusts (README "Import" flags). */
export interface SignaturePolicy {
  /** `--verify-key`, repeatable: any one suffices. */
  readonly keys: readonly VerificationKey[];
  /** `--trusted-root` with `--certificate-identity[-regexp]` and `--certificate-oidc-issuer`. */
  readonly keyless?: KeylessPolicy | undefined;
  /** `--insecure-skip-signature`: report failures instead of refusing. */
  readonly insecureSkipSignature: boolean;
}

export interface SignatureStatus {
  readonly signed: boolean;
  readonly verified: boolean;
  readonly method?: SignatureMethod;
  /** Key fingerprint or certificate identity; when not verified, what the signature claims. */
  readonly signer?: string;
  readonly issuer?: string;
  /** Why it is not verified. */
  readonly reason?: string;
  /** The signed predicate (bundle id, bases, tool version), once the signature verified. */
  readonly predicate?: AirlockPredicate;
}

export interface VerifyBundleManifestOptions {
  readonly airlockJson: Buffer;
  /** airlock.sigstore.json's bytes, or undefined when the bundle has none. */
  readonly signature: Buffer | undefined;
  readonly policy: SignaturePolicy;
  /** The bundle file (or directory, or first volume) the user named: errors name it beside the entry. */
  readonly bundlePath?: string;
}

/** `BUNDLE, entry ENTRY` (STYLE.md §5), or the entry alone when the file is not known. */
function entryWhere(bundlePath: string | undefined, entry: string): string {
  return bundlePath ? `${bundlePath}, entry ${entry}` : entry;
}

/**
 * Check the signature on airlock.json, offline. Throws SIGNATURE_MISSING or SIGNATURE_INVALID
 * (exit 3) with the reason; with `insecureSkipSignature` it returns an unverified status instead.
 */
export async function verifyBundleManifest(opts: VerifyBundleManifestOptions): Promise<SignatureStatus> {
  try {
    return await checkBundleManifest(opts.airlockJson, opts.signature, opts.policy, opts.bundlePath);
  } catch (err) {
    if (opts.policy.insecureSkipSignature && isAirlockError(err) && (err.code === 'SIGNATURE_INVALID' || err.code === 'SIGNATURE_MISSING' || err.code === 'SIGNATURE_UNVERIFIED')) {
      return failedStatus(opts.signature, err);
    }
    throw err;
  }
}

/** The signature's status for `bundle inspect`: never throws because a signature does not verify. */
export async function inspectSignature(airlockJson: Buffer, signature: Buffer | undefined, policy: Omit<SignaturePolicy, 'insecureSkipSignature'> & { insecureSkipSignature?: boolean }): Promise<SignatureStatus> {
  try {
    return await checkBundleManifest(airlockJson, signature, { ...policy, insecureSkipSignature: true });
  } catch (err) {
    if (isAirlockError(err)) return failedStatus(signature, err);
    throw err;
  }
}

function failedStatus(signature: Buffer | undefined, err: AirlockError): SignatureStatus {
  if (signature === undefined) return { signed: false, verified: false, reason: err.message };
  let claimed: ReturnType<typeof claimedSigner> | undefined;
  try {
    claimed = claimedSigner(parseSigstoreBundle(signature, 'SIGNATURE_INVALID'));
  } catch {
    claimed = undefined;
  }
  return {
    signed: true,
    verified: false,
    ...(claimed ? { method: claimed.method, signer: claimed.signer, ...(claimed.issuer ? { issuer: claimed.issuer } : {}) } : {}),
    reason: err.message,
  };
}

/** The checklist, in order; the first failure throws. */
async function checkBundleManifest(airlockJson: Buffer, signature: Buffer | undefined, policy: SignaturePolicy, bundlePath?: string): Promise<SignatureStatus> {
  const where = entryWhere(bundlePath, AIRLOCK_SIGNATURE);
  // 1. There is a signature.
  if (signature === undefined) {
    throw new AirlockError('SIGNATURE_MISSING', `the bundle is unsigned: it has no ${AIRLOCK_SIGNATURE}`, {
      where,
      hint: 'ask for a bundle exported with --sign-key, or accept the risk with --insecure-skip-signature',
    });
  }
  // 2. It is a well-formed Sigstore bundle holding a DSSE envelope over an in-toto statement.
  const bundle = parseSigstoreBundle(signature, 'SIGNATURE_INVALID', where);
  const envelope = dsseEnvelope(bundle, where);
  // 3. The signature verifies and the signer is trusted (key or keyless policy).
  const verified = await verifySigstoreSignature(bundle, { keys: policy.keys, keyless: policy.keyless, code: 'SIGNATURE_INVALID', where });
  // 4. What was signed is THIS airlock.json: @sigstore/verify does not look at the payload.
  const predicate = checkStatement(envelope.payload, airlockJson, where, entryWhere(bundlePath, AIRLOCK_JSON));
  return {
    signed: true,
    verified: true,
    method: verified.method,
    signer: verified.signer,
    ...(verified.issuer ? { issuer: verified.issuer } : {}),
    predicate,
  };
}

export function dsseEnvelope(bundle: Bundle, where: string): { payload: Buffer; payloadType: string } {
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw signatureError('SIGNATURE_INVALID', 'malformed signature: expected a DSSE envelope over an in-toto statement, found a message signature', where);
  }
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== MEDIA_TYPE_IN_TOTO) {
    throw signatureError('SIGNATURE_INVALID', `malformed signature: DSSE payload type is ${env.payloadType || '(empty)'}, not ${MEDIA_TYPE_IN_TOTO}`, where);
  }
  if (env.signatures.length !== 1) {
    // The verifier checks only the first signature; more than one would be unchecked text.
    throw signatureError('SIGNATURE_INVALID', `malformed signature: the DSSE envelope has ${env.signatures.length} signatures, expected 1`, where);
  }
  return { payload: env.payload, payloadType: env.payloadType };
}

function checkStatement(payload: Buffer, airlockJson: Buffer, where: string, airlockJsonWhere: string): AirlockPredicate {
  const statement = parseStatement(payload);
  if (typeof statement === 'string') throw signatureError('SIGNATURE_INVALID', `malformed signature: ${statement}`, where);
  if (statement.predicateType !== AIRLOCK_PREDICATE_TYPE) {
    throw signatureError('SIGNATURE_INVALID', `the signed statement is a ${statement.predicateType}, not an Airlock bundle statement`, where, undefined, 'this signature was made for something else; it does not vouch for this bundle');
  }
  const actual = sha256Hex(airlockJson);
  const subject = statement.subject.find((s) => s.name === AIRLOCK_JSON);
  if (statement.subject.length !== 1 || !subject || subject.digest['sha256'] === undefined) {
    throw signatureError('SIGNATURE_INVALID', `the signed statement's subject is not exactly ${AIRLOCK_JSON} with a sha256 digest`, where);
  }
  if (subject.digest['sha256'] !== actual) {
    throw signatureError(
      'SIGNATURE_INVALID',
      `${AIRLOCK_JSON} does not match its signature: signed sha256:${subject.digest['sha256']}, found sha256:${actual}`,
      airlockJsonWhere,
      undefined,
      'airlock.json was altered after signing, or the signature belongs to another bundle: copy the bundle again from the source',
    );
  }
  const predicate = readAirlockPredicate(statement);
  if (!predicate || predicate.bundleId !== `sha256:${actual}`) {
    throw signatureError('SIGNATURE_INVALID', `the signed bundle id ${predicate?.bundleId || '(none)'} is not sha256:${actual}`, where);
  }
  return predicate;
}

/**
 * A Sigstore bundle v0.3 with a DSSE envelope over `statement`, signed with a local key and no
 * witnesses (no transparency log, no timestamp authority), so nothing leaves the machine. Shared by
 * the bundle signature and the receipt signature; they differ only in the statement.
 */
export async function signStatement(statement: unknown, key: SigningKey): Promise<Buffer> {
  const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const signer: Signer = {
    // DSSEBundleBuilder hands us the DSSE pre-authentication encoding. Ed25519 signs the message
    // itself (algorithm null); ECDSA P-256 signs its SHA-256, DER-encoded, as the verifier expects.
    sign: async (data: Buffer) => ({
      signature: cryptoSign(key.type === 'ed25519' ? null : 'sha256', data, key.privateKey),
      key: { $case: 'publicKey', publicKey: publicPem, hint: key.fingerprint },
    }),
  };
  // Loaded here, not at start-up: only exports and signed imports sign. The package is CommonJS:
  // its exports are `default` both under Node's own import and in a chunk esbuild split off
  // (which exports `default` alone: a named import from it came back undefined). Only the DSSE
  // bundler, by its path (the package has no `exports` map; the version is pinned, and
  // test/unit/signing checks it is the index's class): the index also loads the Fulcio, Rekor and
  // TSA clients and their HTTP stack (make-fetch-happen, cacache, socks…: 226 files, 0.33 CPU-s
  // here, against 42 files and 0.07 CPU-s), which a key signature never uses (keyless.ts does).
  const { DSSEBundleBuilder } = (await import('@sigstore/sign/dist/bundler/dsse.js')).default;
  const bundle = await new DSSEBundleBuilder({ signer, witnesses: [] }).create({
    data: Buffer.from(JSON.stringify(statement), 'utf8'),
    type: MEDIA_TYPE_IN_TOTO,
  });
  return Buffer.from(`${JSON.stringify(bundleToJSON(bundle), null, 2)}\n`, 'utf8');
}
