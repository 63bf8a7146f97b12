import { readFile, rm } from 'node:fs/promises';
import { ioError } from '../errors.js';
import type { SigningKey, VerificationKey } from './keys.js';
import { signReceipt, verifyReceipt, type ReceiptPredicate, type VerifiedReceipt } from './receipt.js';
import { writeFileAtomic } from '../util/index.js';

/**
 * The detached signature of a receipt lives beside it: `receipt.json` → `receipt.sigstore.json`
 * (as `airlock.json` → `airlock.sigstore.json` in a bundle), and a renamed `site-a.json` →
 * `site-a.sigstore.json`, so both files can be carried out together under any name.
 */
export function receiptSignaturePath(receiptPath: string): string {
  return receiptPath.endsWith('.json') ? `${receiptPath.slice(0, -'.json'.length)}.sigstore.json` : `${receiptPath}.sigstore.json`;
}

/** Sign the receipt as written (its exact bytes, read back) and write the signature beside it. */
export async function writeReceiptSignature(receiptPath: string, key: SigningKey, predicate: ReceiptPredicate): Promise<string> {
  const raw = await readFile(receiptPath).catch((err: unknown) => {
    throw ioError(err, 'read back', receiptPath);
  });
  const sigPath = receiptSignaturePath(receiptPath);
  await writeFileAtomic(sigPath, await signReceipt({ receiptJson: raw, predicate, key }));
  return sigPath;
}

/** An unsigned re-run must not leave the previous run's signature beside a new receipt. */
export async function removeReceiptSignature(receiptPath: string): Promise<void> {
  await rm(receiptSignaturePath(receiptPath), { force: true }).catch((err: unknown) => {
    throw ioError(err, 'remove the stale receipt signature', receiptSignaturePath(receiptPath));
  });
}

/** `--receipt-key`: the receipt at `receiptPath` (bytes `raw`) must be signed by one of `keys`. Exit 3 otherwise. */
export async function checkReceiptSignature(receiptPath: string, raw: Buffer, keys: readonly VerificationKey[]): Promise<VerifiedReceipt> {
  const sigPath = receiptSignaturePath(receiptPath);
  const signature = await readFile(sigPath).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(err, 'read', sigPath);
  });
  return verifyReceipt({ receiptJson: raw, signature, keys, where: signature ? sigPath : receiptPath });
}
