import { sign, verify } from 'node:crypto';
import type { SigningKey, VerificationKey } from './keys.js';

/**
 * A plain detached signature over a file's bytes, for release files (SHA256SUMS.sig): checkable
 * with openssl alone, no Sigstore tooling, on a host that has not run airlock yet.
 * - ECDSA P-256: SHA-256, DER-encoded (r, s), what `openssl dgst -sha256 -sign` writes and
 *   `openssl dgst -sha256 -verify PUB -signature SIG FILE` checks.
 * - Ed25519: the 64-byte signature over the bytes themselves (Ed25519 hashes internally), what
 *   `openssl pkeyutl -verify -pubin -inkey PUB -rawin -in FILE -sigfile SIG` checks
 *   (`openssl dgst` cannot: Ed25519 takes no separate digest).
 */
export function signDetached(data: Uint8Array, key: SigningKey): Buffer {
  return sign(key.type === 'ed25519' ? null : 'sha256', data, key.privateKey);
}

/** True when `signature` is `signDetached(data, key)` by the holder of `key`. */
export function verifyDetached(data: Uint8Array, signature: Uint8Array, key: VerificationKey): boolean {
  try {
    return verify(key.type === 'ed25519' ? null : 'sha256', data, key.publicKey, signature);
  } catch {
    return false;
  }
}
