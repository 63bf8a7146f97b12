import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCb,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AirlockError, ioError } from '../errors.js';
import { COSIGN_PASSWORD_ENV, cosignKeyEnvelope, decryptCosignKey } from './cosign-key.js';
import { PASSPHRASE_ENV } from './passphrase.js';

const generateKeyPairAsync = promisify(generateKeyPairCb);

/**
 * The key types Airlock signs with. ECDSA P-384 is deliberately absent: @sigstore/verify@3 hashes
 * every EC signature with SHA-256, so a P-384/SHA-384 signature never verifies (docs/ARCHITECTURE.md "Sigstore").
 */
export type KeyType = 'ecdsa-p256' | 'ed25519';

export const KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'ed25519'];

/** A loaded private key: what `signBundleManifest` needs. Opaque outside this module. */
export interface SigningKey {
  readonly type: KeyType;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** `sha256:<hex>` of the SPKI DER of the public key. */
  readonly fingerprint: string;
  /** Where it was loaded from, for messages. */
  readonly source?: string;
}

/** A trusted public key (`--verify-key`, a vendor's cosign.pub). */
export interface VerificationKey {
  readonly type: KeyType;
  readonly publicKey: KeyObject;
  readonly fingerprint: string;
  readonly source?: string;
}

export interface KeyPairPem {
  readonly privatePem: string;
  readonly publicPem: string;
}

export interface GenerateKeyPairOptions {
  /** Default `ecdsa-p256` (README `keys generate`). */
  readonly type?: KeyType;
  /** When set (non-empty), the PKCS#8 PEM is encrypted with AES-256-CBC under this passphrase. */
  readonly passphrase?: string;
}

export async function generateKeyPair(opts: GenerateKeyPairOptions = {}): Promise<KeyPairPem> {
  const type = opts.type ?? 'ecdsa-p256';
  const { privateKey, publicKey } =
    type === 'ed25519'
      ? await generateKeyPairAsync('ed25519')
      : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const privatePem = privateKey.export(
    opts.passphrase
      ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: opts.passphrase }
      : { type: 'pkcs8', format: 'pem' },
  ) as string;
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return { privatePem, publicPem };
}

/** `sha256:<hex>` of the SPKI DER: stable across PEM formatting, used as the Sigstore key hint. */
export function keyFingerprint(key: SigningKey | VerificationKey | KeyObject): string {
  const pub = 'fingerprint' in key ? key.publicKey : key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** Which of our key types a key object is; throws KEY_INVALID for anything else (RSA, P-384, …). */
export function keyTypeOf(key: KeyObject, where?: string): KeyType {
  const kt = key.asymmetricKeyType;
  if (kt === 'ed25519') return 'ed25519';
  if (kt === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return 'ecdsa-p256';
    throw new AirlockError('KEY_INVALID', `unsupported EC curve ${curve ?? 'unknown'}: only P-256 is supported`, {
      ...(where ? { where } : {}),
      hint:
        curve === 'secp384r1'
          ? 'P-384 signatures cannot be verified by Sigstore verifiers that hash EC with SHA-256; make a new key with `airlock keys generate`'
          : 'make a supported key with `airlock keys generate` (ECDSA P-256 or Ed25519)',
    });
  }
  throw new AirlockError('KEY_INVALID', `unsupported key type ${kt ?? 'unknown'}: only ECDSA P-256 and Ed25519 are supported`, {
    ...(where ? { where } : {}),
    hint: 'make a supported key with `airlock keys generate` (ECDSA P-256 or Ed25519)',
  });
}

function isEncryptedPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const io = ioError(err, `read ${what}`, path);
    throw new AirlockError('KEY_INVALID', io.message, { cause: err, where: path, ...(io.hint ? { hint: io.hint } : {}) });
  }
}

/**
 * Load a PEM private key (PKCS#8, SEC1 or OpenSSH-free PEM that node:crypto reads). Encrypted keys
 * ask `getPassphrase` only when needed. Every failure is KEY_INVALID with a next step.
 */
export async function loadPrivateKey(path: string, getPassphrase: () => Promise<string | undefined>): Promise<SigningKey> {
  const pem = await readKeyFile(path, 'private key');
  if (/-----BEGIN (?:PUBLIC KEY|CERTIFICATE)-----/.test(pem) && !pem.includes('PRIVATE KEY-----')) {
    throw new AirlockError('KEY_INVALID', `${path} holds a public key, not a private key`, {
      where: path,
      hint: '--sign-key takes PREFIX.key from `airlock keys generate`; PREFIX.pub is for --verify-key',
    });
  }
  const cosign = cosignKeyEnvelope(pem);
  if (cosign) {
    // cosign keys may be encrypted with an empty passphrase, and cosign users have COSIGN_PASSWORD set.
    // Order: AIRLOCK_KEY_PASSWORD, COSIGN_PASSWORD, the prompt.
    const passphrase = process.env[PASSPHRASE_ENV] ?? process.env[COSIGN_PASSWORD_ENV] ?? (await getPassphrase());
    if (passphrase === undefined) {
      throw new AirlockError('KEY_INVALID', `${path} is an encrypted cosign key and no passphrase was given`, {
        where: path,
        hint: 'set AIRLOCK_KEY_PASSWORD (or COSIGN_PASSWORD; empty for a key made with an empty one), or run on a terminal to be prompted',
      });
    }
    const privateKey = await decryptCosignKey(cosign, passphrase, path);
    const type = keyTypeOf(privateKey, path);
    const publicKey = createPublicKey(privateKey);
    return { type, privateKey, publicKey, fingerprint: keyFingerprint(publicKey), source: path };
  }
  const encrypted = isEncryptedPem(pem);
  let passphrase: string | undefined;
  if (encrypted) {
    passphrase = await getPassphrase();
    if (passphrase === undefined || passphrase === '') {
      throw new AirlockError('KEY_INVALID', `${path} is encrypted and no passphrase was given`, {
        where: path,
        hint: 'set AIRLOCK_KEY_PASSWORD or run on a terminal to be prompted',
      });
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(passphrase === undefined ? { key: pem, format: 'pem' } : { key: pem, format: 'pem', passphrase });
  } catch (err) {
    throw new AirlockError(
      'KEY_INVALID',
      encrypted ? `cannot decrypt ${path}: wrong passphrase or damaged key` : `${path} is not a readable PEM private key`,
      {
        cause: err,
        where: path,
        hint: encrypted
          ? 'check AIRLOCK_KEY_PASSWORD (or the passphrase typed at the prompt)'
          : 'pass PREFIX.key written by `airlock keys generate` (PEM, ECDSA P-256 or Ed25519)',
      },
    );
  }
  const type = keyTypeOf(privateKey, path);
  const publicKey = createPublicKey(privateKey);
  return { type, privateKey, publicKey, fingerprint: keyFingerprint(publicKey), source: path };
}

/** Parse a PEM public key (SPKI) from memory, e.g. trust material carried in a bundle. */
export function parsePublicKey(pem: string | Buffer, where?: string): VerificationKey {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  // createPublicKey would happily derive a public key from a private PEM: refuse it instead, a
  // private key has no place in trust material and a mix-up here means the user swapped files.
  if (text.includes('PRIVATE KEY-----')) {
    throw new AirlockError('KEY_INVALID', `${where ?? 'key'} is a private key; a public key was expected`, {
      ...(where ? { where } : {}),
      hint: 'pass PREFIX.pub, not PREFIX.key',
    });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new AirlockError('KEY_INVALID', `${where ?? 'public key'} is not a readable PEM public key`, {
      cause: err,
      ...(where ? { where } : {}),
      hint: 'pass PREFIX.pub written by `airlock keys generate` or a cosign.pub (PEM "PUBLIC KEY")',
    });
  }
  const type = keyTypeOf(publicKey, where);
  return { type, publicKey, fingerprint: keyFingerprint(publicKey), ...(where ? { source: where } : {}) };
}

export async function loadPublicKey(path: string): Promise<VerificationKey> {
  return parsePublicKey(await readKeyFile(path, 'public key'), path);
}

/** The public key of a signing key, as a verification key (e.g. to check one's own signature). */
export function toVerificationKey(key: SigningKey): VerificationKey {
  return { type: key.type, publicKey: key.publicKey, fingerprint: key.fingerprint, ...(key.source ? { source: key.source } : {}) };
}
