/**
 * cosign's private key file, so a key made by `cosign generate-key-pair` (or `skopeo
 * generate-sigstore-key`) signs bundles as it is. The format is go-securesystemslib's
 * `encrypted` envelope (https://github.com/secure-systems-lab/go-securesystemslib, encrypted/
 * encrypted.go), base64 in a PEM block of type `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign ≥ 2;
 * `ENCRYPTED COSIGN PRIVATE KEY` before): JSON
 *   {"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt": b64},
 *    "cipher": {"name": "nacl/secretbox", "nonce": b64}, "ciphertext": b64}
 * where the 32-byte secretbox key is scrypt(passphrase, salt, N, r, p) and the plaintext is the
 * key's PKCS#8 DER. node:crypto has scrypt but not XSalsa20-Poly1305: tweetnacl opens the box.
 */
import { createPrivateKey, scrypt, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { AirlockError } from '../errors.js';

/** cosign's passphrase variable, read after AIRLOCK_KEY_PASSWORD for cosign keys. */
export const COSIGN_PASSWORD_ENV = 'COSIGN_PASSWORD';

const PEM_TYPES = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'] as const;

/** Far above cosign's own (N 32768, r 8, p 1), low enough that a hostile file cannot ask for gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** The envelope's bytes when `pem` is a cosign private key file, else undefined. */
export function cosignKeyEnvelope(pem: string): Buffer | undefined {
  for (const type of PEM_TYPES) {
    const m = new RegExp(`-----BEGIN ${type}-----([\\s\\S]*?)-----END ${type}-----`).exec(pem);
    if (m) return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  }
  return undefined;
}

interface Envelope {
  kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  cipher?: { name?: unknown; nonce?: unknown };
  ciphertext?: unknown;
}

/** Decrypt a cosign key envelope with `passphrase` (empty is allowed: cosign allows it). */
export async function decryptCosignKey(envelope: Buffer, passphrase: string, where: string): Promise<KeyObject> {
  const bad = (what: string): AirlockError =>
    new AirlockError('KEY_INVALID', `${where} is not a readable cosign private key: ${what}`, {
      where, hint: 'pass the cosign.key that `cosign generate-key-pair` wrote, unchanged',
    });
  let doc: Envelope;
  try {
    doc = JSON.parse(envelope.toString('utf8')) as Envelope;
  } catch {
    throw bad('its contents are not the JSON envelope cosign writes');
  }
  if (doc.kdf?.name !== 'scrypt') throw bad(`key derivation ${JSON.stringify(doc.kdf?.name)}, expected "scrypt"`);
  if (doc.cipher?.name !== 'nacl/secretbox') throw bad(`cipher ${JSON.stringify(doc.cipher?.name)}, expected "nacl/secretbox"`);
  const { N, r, p } = doc.kdf.params ?? {};
  if (!isInt(N, 2, MAX_N) || (N & (N - 1)) !== 0 || !isInt(r, 1, MAX_R) || !isInt(p, 1, MAX_P)) {
    throw bad(`scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)} are out of range`);
  }
  // tweetnacl is loaded here, not at startup: only a cosign private key needs it, and every run
  // that verifies a signature loads this module (docs/BENCHMARKS.md, no-op re-import).
  const { default: nacl } = await import('tweetnacl');
  const salt = b64(doc.kdf.salt);
  const nonce = b64(doc.cipher.nonce);
  const ciphertext = b64(doc.ciphertext);
  if (!salt || !nonce || nonce.length !== nacl.secretbox.nonceLength || !ciphertext || ciphertext.length < nacl.secretbox.overheadLength) {
    throw bad('salt, nonce or ciphertext missing or of the wrong size');
  }
  const key = await scryptAsync(passphrase, salt, nacl.secretbox.keyLength, { N, r, p, maxmem: 128 * N * r * p + (1 << 20) });
  const der = nacl.secretbox.open(new Uint8Array(ciphertext), new Uint8Array(nonce), new Uint8Array(key));
  if (!der) {
    throw new AirlockError('KEY_INVALID', `cannot decrypt ${where}: wrong passphrase or damaged key`, {
      where, hint: 'check AIRLOCK_KEY_PASSWORD (or COSIGN_PASSWORD, or the passphrase typed at the prompt)',
    });
  }
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new AirlockError('KEY_INVALID', `${where} decrypts, but not to a PKCS#8 private key`, { where, cause: err });
  }
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function b64(v: unknown): Buffer | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? Buffer.from(v, 'base64') : undefined;
}
