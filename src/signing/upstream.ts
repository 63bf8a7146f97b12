/**
 * Vendor (upstream) image signatures, checked at export and re-checked offline at import:
 * - cosign key-based signatures stored under the `sha256-<hex>.sig` tag: a simple-signing payload
 *   (https://github.com/containers/image/blob/main/docs/containers-signature.5.md, "JSON Data
 *   Format") as a layer, the base64 signature in the `dev.cosignproject.cosign/signature` annotation;
 * - Sigstore bundles attached as OCI referrers (cosign v3, artifactType
 *   application/vnd.dev.sigstore.bundle.v0.3+json).
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { MEDIA_TYPE_IN_TOTO } from '../oci/index.js';
import type { VerificationKey } from './keys.js';
import { parseSigstoreBundle, signatureError, verifySigstoreSignature, type KeylessPolicy, type SignatureMethod } from './sigstore.js';
import { parseStatement } from './statement.js';

const CODE = 'UPSTREAM_SIGNATURE_INVALID' as const;
const SHA256_DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface CosignSimpleSigningOptions {
  /** The signed image's manifest digest. */
  readonly imageDigest: string;
  /** The simple-signing payload exactly as stored (the .sig manifest's layer bytes). */
  readonly payload: Buffer;
  /** The `dev.cosignproject.cosign/signature` annotation. */
  readonly signatureB64: string;
  readonly key: VerificationKey;
  /** For messages: image reference or signature manifest digest. */
  readonly where?: string;
}

/**
 * Verify a cosign key-based signature: first the signature over the payload bytes (ECDSA P-256
 * with SHA-256, DER; or Ed25519), then that the payload names this image
 * (`critical.image.docker-manifest-digest`). Throws UPSTREAM_SIGNATURE_INVALID.
 */
export function verifyCosignSimpleSigning(opts: CosignSimpleSigningOptions): void {
  const where = opts.where ?? opts.imageDigest;
  const hex = digestHex(opts.imageDigest, where);
  const b64 = opts.signatureB64.trim();
  if (b64 === '' || !BASE64_RE.test(b64)) {
    throw signatureError(CODE, 'cosign signature annotation is not valid base64', where);
  }
  const sig = Buffer.from(b64, 'base64');
  let ok: boolean;
  try {
    ok = cryptoVerify(opts.key.type === 'ed25519' ? null : 'sha256', opts.payload, opts.key.publicKey, sig);
  } catch {
    ok = false; // malformed DER and the like: a bad signature, not a crash
  }
  if (!ok) {
    throw signatureError(
      CODE,
      `cosign signature does not verify with key ${opts.key.fingerprint}`,
      where,
      undefined,
      'the image was signed with another key, or the signature was altered: check the verify key in the mirror list',
    );
  }
  // Only now is the payload trusted enough to read.
  let signedDigest: unknown;
  try {
    const doc = JSON.parse(opts.payload.toString('utf8')) as { critical?: { image?: Record<string, unknown> } };
    signedDigest = doc.critical?.image?.['docker-manifest-digest'];
  } catch (err) {
    throw signatureError(CODE, 'cosign simple-signing payload is not JSON', where, err);
  }
  if (typeof signedDigest !== 'string') {
    throw signatureError(CODE, 'cosign simple-signing payload has no critical.image.docker-manifest-digest', where);
  }
  if (signedDigest !== `sha256:${hex}`) {
    throw signatureError(
      CODE,
      `cosign signature is for ${signedDigest}, not for ${opts.imageDigest}`,
      where,
      undefined,
      'the signature was made for another image (a replayed or misplaced .sig): do not trust this image',
    );
  }
}

export interface UpstreamBundlePolicy {
  /** The vendor's public key (key-based bundles). */
  readonly key?: VerificationKey | undefined;
  /** Keyless: identity, issuer and trusted root (also used to check a key bundle's Rekor entries). */
  readonly keyless?: KeylessPolicy | undefined;
}

export interface SigstoreBundleForDigestOptions {
  /** The Sigstore bundle's bytes (the referrer's layer). */
  readonly bundle: Buffer;
  readonly imageDigest: string;
  /** The image manifest's bytes: needed only for message-signature bundles, which sign them. */
  readonly manifest?: Buffer | undefined;
  readonly policy: UpstreamBundlePolicy;
  readonly where?: string;
}

export interface UpstreamSigner {
  readonly method: SignatureMethod;
  readonly signer: string;
  readonly issuer?: string;
  /** DSSE bundles: the statement's predicate type (e.g. https://sigstore.dev/cosign/sign/v1). */
  readonly predicateType?: string;
}

/**
 * Verify a Sigstore bundle that claims to sign an image: the signature and signer policy, then
 * the binding to the image digest (DSSE: an in-toto subject with that sha256; message signature:
 * the message digest is the image digest and the supplied manifest hashes to it).
 */
export async function verifySigstoreBundleForDigest(opts: SigstoreBundleForDigestOptions): Promise<UpstreamSigner> {
  const where = opts.where ?? opts.imageDigest;
  const hex = digestHex(opts.imageDigest, where);
  const bundle = parseSigstoreBundle(opts.bundle, CODE, where);
  const keys = opts.policy.key ? [opts.policy.key] : [];
  switch (bundle.content.$case) {
    case 'messageSignature': {
      const md = bundle.content.messageSignature.messageDigest;
      if (!md || Buffer.from(md.digest).toString('hex') !== hex) {
        throw signatureError(CODE, `the Sigstore bundle signs another digest, not ${opts.imageDigest}`, where, undefined, 'the signature was made for another image: do not trust this image');
      }
      if (!opts.manifest) {
        throw signatureError(CODE, 'the Sigstore bundle holds a message signature: the image manifest is needed to verify it', where);
      }
      if (createHash('sha256').update(opts.manifest).digest('hex') !== hex) {
        throw signatureError(CODE, `the supplied manifest is not ${opts.imageDigest}`, where);
      }
      const signer = await verifySigstoreSignature(bundle, { keys, keyless: opts.policy.keyless, artifact: opts.manifest, code: CODE, where });
      return { ...signer };
    }
    case 'dsseEnvelope': {
      const env = bundle.content.dsseEnvelope;
      if (env.payloadType !== MEDIA_TYPE_IN_TOTO) {
        throw signatureError(CODE, `the Sigstore bundle's DSSE payload type is ${env.payloadType || '(empty)'}, not ${MEDIA_TYPE_IN_TOTO}`, where);
      }
      const signer = await verifySigstoreSignature(bundle, { keys, keyless: opts.policy.keyless, code: CODE, where });
      const statement = parseStatement(env.payload);
      if (typeof statement === 'string') throw signatureError(CODE, `malformed Sigstore bundle: ${statement}`, where);
      if (!statement.subject.some((s) => s.digest['sha256'] === hex)) {
        throw signatureError(CODE, `the signed statement's subjects do not include ${opts.imageDigest}`, where, undefined, 'the signature was made for another image: do not trust this image');
      }
      return { ...signer, predicateType: statement.predicateType };
    }
  }
}

function digestHex(digest: string, where: string): string {
  const m = SHA256_DIGEST_RE.exec(digest);
  if (!m?.[1]) throw new AirlockError('DIGEST_INVALID', `invalid image digest "${digest}"`, { where });
  return m[1];
}
