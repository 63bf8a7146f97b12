/**
 * Vendor signatures over release files (seed 004: `cosign verify-blob --signature checksums.txt.sig
 * checksums.txt`), checked at export and again, offline, at the site:
 * - `cosign sign-blob --key`: the base64 of an ECDSA P-256 (or RSA) signature over the file's
 *   bytes with SHA-256 (https://github.com/sigstore/cosign/blob/main/doc/cosign_sign-blob.md), which
 *   `openssl dgst -sha256 -sign` makes too; checked here while the file streams;
 * - `cosign sign-blob --bundle`: a Sigstore bundle (message signature over the file, or a DSSE
 *   statement whose subject is the file's sha256), by a key or keyless (Fulcio certificate,
 *   checked against a trusted_root.json with the identity and issuer the mirror list names).
 */
import { createVerify, verify as cryptoVerify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { AirlockError, ioError } from '../errors.js';
import { MEDIA_TYPE_IN_TOTO } from '../oci/index.js';
import type { VerificationKey } from './keys.js';
import { parseSigstoreBundle, signatureError, verifySigstoreSignature, type KeylessPolicy, type SignatureMethod } from './sigstore.js';
import { parseStatement } from './statement.js';

const CODE = 'UPSTREAM_SIGNATURE_INVALID' as const;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A message-signature bundle is checked by @sigstore/verify over the file's bytes in memory, and an
 * Ed25519 signature needs them whole too (no streaming interface): files larger than this are
 * refused for those two kinds (checksums files, manifests and SBOMs are far smaller).
 */
export const MAX_IN_MEMORY_SIGNED_FILE = 256 * 1024 * 1024;

export interface BlobSigner {
  readonly method: SignatureMethod;
  /** Key fingerprint or certificate identity. */
  readonly signer: string;
  readonly issuer?: string;
}

export interface VerifyCosignBlobOptions {
  /** The file on disk. */
  readonly path: string;
  /** The signature file's content: base64 text (whitespace around it is ignored). */
  readonly signature: string;
  readonly key: VerificationKey;
  /** For messages: the file's name and the mirror list position. */
  readonly where: string;
}

/** `cosign verify-blob --key K --signature S FILE`, offline. Throws UPSTREAM_SIGNATURE_INVALID. */
export async function verifyCosignBlob(o: VerifyCosignBlobOptions): Promise<BlobSigner> {
  const b64 = o.signature.replace(/\s+/g, '');
  if (b64 === '' || !BASE64_RE.test(b64)) {
    throw signatureError(CODE, 'the signature file is not base64 (cosign sign-blob --output-signature writes the base64 of the signature)', o.where);
  }
  const sig = Buffer.from(b64, 'base64');
  let ok = false;
  try {
    if (o.key.type === 'ed25519') {
      ok = cryptoVerify(null, await readWhole(o.path, o.where), o.key.publicKey, sig);
    } else {
      const v = createVerify('sha256');
      for await (const chunk of createReadStream(o.path, { highWaterMark: 1 << 20 })) v.update(chunk as Buffer);
      ok = v.verify(o.key.publicKey, sig);
    }
  } catch (err) {
    if (err instanceof AirlockError) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith('E') && (err as NodeJS.ErrnoException).syscall) throw ioError(err, 'read', o.path);
    ok = false; // malformed DER and the like: a bad signature, not a crash
  }
  if (!ok) {
    throw signatureError(CODE, `the signature does not verify with key ${o.key.fingerprint}`, o.where, undefined,
      'the file was altered, or signed with another key: check the file and `key:` against what the vendor publishes');
  }
  return { method: 'key', signer: o.key.fingerprint };
}

export interface VerifySigstoreBlobOptions {
  readonly path: string;
  /** The file's sha256 hex, as carried (it was verified while it was written). */
  readonly sha256: string;
  /** The bundle's bytes. */
  readonly bundle: Buffer;
  readonly key?: VerificationKey | undefined;
  readonly keyless?: KeylessPolicy | undefined;
  readonly where: string;
}

/**
 * `cosign verify-blob --bundle B FILE` (with `--key`, or `--certificate-identity` and
 * `--certificate-oidc-issuer`), offline: the bundle must sign this file, and its signer must be the
 * key or identity given. Throws UPSTREAM_SIGNATURE_INVALID.
 */
export async function verifySigstoreBlob(o: VerifySigstoreBlobOptions): Promise<BlobSigner> {
  const bundle = parseSigstoreBundle(o.bundle, CODE, o.where);
  const keys = o.key ? [o.key] : [];
  switch (bundle.content.$case) {
    case 'messageSignature': {
      const md = bundle.content.messageSignature.messageDigest;
      if (!md || Buffer.from(md.digest).toString('hex') !== o.sha256) {
        throw signatureError(CODE, `the Sigstore bundle signs another file (its message digest is not sha256:${o.sha256})`, o.where, undefined,
          'the bundle belongs to another file or version: take the bundle published with this file');
      }
      const artifact = await readWhole(o.path, o.where);
      return verifySigstoreSignature(bundle, { keys, keyless: o.keyless, artifact, code: CODE, where: o.where });
    }
    case 'dsseEnvelope': {
      const env = bundle.content.dsseEnvelope;
      if (env.payloadType !== MEDIA_TYPE_IN_TOTO) {
        throw signatureError(CODE, `the Sigstore bundle's DSSE payload type is ${env.payloadType || '(empty)'}, not ${MEDIA_TYPE_IN_TOTO}`, o.where);
      }
      const signer = await verifySigstoreSignature(bundle, { keys, keyless: o.keyless, code: CODE, where: o.where });
      const statement = parseStatement(env.payload);
      if (typeof statement === 'string') throw signatureError(CODE, `malformed Sigstore bundle: ${statement}`, o.where);
      if (!statement.subject.some((s) => s.digest['sha256'] === o.sha256)) {
        throw signatureError(CODE, `the signed statement's subjects do not include this file (sha256:${o.sha256})`, o.where, undefined,
          'the bundle belongs to another file or version: take the bundle published with this file');
      }
      return signer;
    }
  }
}

async function readWhole(path: string, where: string): Promise<Buffer> {
  try {
    const s = await stat(path);
    if (s.size > MAX_IN_MEMORY_SIGNED_FILE) {
      throw new AirlockError('USAGE', `${where}: the file is ${s.size} bytes; a Sigstore message signature or an Ed25519 signature is checked only on files up to ${MAX_IN_MEMORY_SIGNED_FILE} bytes`, {
        where, hint: 'sign a checksums file that lists the large file instead (checksums: with signature:), as most vendors do',
      });
    }
    return await readFile(path);
  } catch (err) {
    throw err instanceof AirlockError ? err : ioError(err, 'read', path);
  }
}
