/**
 * The signature on an import receipt (receipt.json): made on the isolated side with
 * `airlock bundle import --sign-key`, checked on the connected side by `bundle export
 * --receipt-key` before the receipt is trusted as a `--since` base. Same form as the bundle
 * signature (a Sigstore bundle v0.3 with a DSSE envelope over an in-toto statement), but with
 * its own predicate type, so a receipt signature can never pass for a bundle signature or the
 * other way round.
 */
import { AirlockError } from '../errors.js';
import type { SigningKey, VerificationKey } from './keys.js';
import { dsseEnvelope, signStatement } from './manifest.js';
import { parseSigstoreBundle, signatureError, verifySigstoreSignature } from './sigstore.js';
import { IN_TOTO_STATEMENT_V1, parseStatement, sha256Hex, type InTotoStatement } from './statement.js';

/** Airlock's receipt predicate: what the site vouches for besides the receipt's digest. */
export const RECEIPT_PREDICATE_TYPE = 'https://airlock.dev/receipt/v1';
/** The subject name in the statement; the file itself may be renamed on its way out. */
export const RECEIPT_SUBJECT = 'receipt.json';

export interface ReceiptPredicate {
  /** The bundle whose import the receipt records. */
  readonly bundleId: string;
  /** `HOST[/PREFIX]` the receipt describes. */
  readonly target: string;
}

export interface SignReceiptOptions {
  /** receipt.json's exact bytes as written. */
  readonly receiptJson: Buffer;
  readonly predicate: ReceiptPredicate;
  readonly key: SigningKey;
}

/** Sign receipt.json with a key, offline (no Fulcio, no Rekor): returns receipt.sigstore.json's bytes. */
export async function signReceipt(opts: SignReceiptOptions): Promise<Buffer> {
  const statement: InTotoStatement = {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: RECEIPT_SUBJECT, digest: { sha256: sha256Hex(opts.receiptJson) } }],
    predicateType: RECEIPT_PREDICATE_TYPE,
    predicate: { bundleId: opts.predicate.bundleId, target: opts.predicate.target },
  };
  return signStatement(statement, opts.key);
}

export interface VerifyReceiptOptions {
  readonly receiptJson: Buffer;
  /** receipt.sigstore.json's bytes; undefined when there is none. */
  readonly signature: Buffer | undefined;
  /** Any one suffices. */
  readonly keys: readonly VerificationKey[];
  /** The receipt's path, for messages. */
  readonly where: string;
}

export interface VerifiedReceipt {
  /** Fingerprint of the key that signed. */
  readonly signer: string;
  readonly predicate: ReceiptPredicate;
}

/**
 * Check a receipt's signature, offline. Throws SIGNATURE_MISSING or SIGNATURE_INVALID (exit 3):
 * a receipt decides what the next export leaves out, so a forged one would starve the site.
 */
export async function verifyReceipt(opts: VerifyReceiptOptions): Promise<VerifiedReceipt> {
  const where = opts.where;
  if (opts.signature === undefined) {
    throw new AirlockError('SIGNATURE_MISSING', 'the receipt is unsigned, and --receipt-key asks for a signed one', {
      where, hint: 'import with `--sign-key` on the isolated side, and carry receipt.sigstore.json out next to receipt.json',
    });
  }
  const bundle = parseSigstoreBundle(opts.signature, 'SIGNATURE_INVALID', where);
  const envelope = dsseEnvelope(bundle, where);
  const verified = await verifySigstoreSignature(bundle, { keys: opts.keys, code: 'SIGNATURE_INVALID', where });
  if (verified.method !== 'key') {
    throw signatureError('SIGNATURE_INVALID', 'the receipt is signed keyless; --receipt-key checks key signatures only', where);
  }
  // The verifier checked the signature, not what was signed: bind the statement to these bytes.
  const statement = parseStatement(envelope.payload);
  if (typeof statement === 'string') throw signatureError('SIGNATURE_INVALID', `malformed receipt signature: ${statement}`, where);
  if (statement.predicateType !== RECEIPT_PREDICATE_TYPE) {
    throw signatureError('SIGNATURE_INVALID', `the signed statement is a ${statement.predicateType}, not an Airlock receipt statement`, where, undefined,
      'this signature was made for something else (a bundle?); it does not vouch for this receipt');
  }
  const actual = sha256Hex(opts.receiptJson);
  const subject = statement.subject[0];
  if (statement.subject.length !== 1 || subject?.digest['sha256'] === undefined) {
    throw signatureError('SIGNATURE_INVALID', 'the signed statement\'s subject is not exactly one receipt with a sha256 digest', where);
  }
  if (subject.digest['sha256'] !== actual) {
    throw signatureError('SIGNATURE_INVALID', `the receipt does not match its signature: signed sha256:${subject.digest['sha256']}, found sha256:${actual}`, where, undefined,
      'the receipt was altered after signing, or the signature belongs to another receipt');
  }
  const p = (typeof statement.predicate === 'object' && statement.predicate !== null ? statement.predicate : {}) as Record<string, unknown>;
  return {
    signer: verified.signer,
    predicate: { bundleId: typeof p['bundleId'] === 'string' ? p['bundleId'] : '', target: typeof p['target'] === 'string' ? p['target'] : '' },
  };
}
