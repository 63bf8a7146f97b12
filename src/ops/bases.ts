import { BaseSetBuilder, readBaseDocument, type BaseSet } from '../bundle/index.js';
import { checkReceiptSignature, loadPublicKey, type VerificationKey } from '../signing/index.js';

export interface LoadBasesOptions {
  /** Public keys (paths) one of which must have signed every receipt base (`--receipt-key`). */
  readonly receiptKeys: readonly string[];
}

/**
 * Read each `--since` base: a bundle (file, volume, directory), its bare airlock.json, or an import
 * receipt.json. With `receiptKeys`, every receipt must carry a valid signature by one of them
 * (receipt.sigstore.json beside it), or the export stops with exit 3 before any download.
 */
export async function loadBases(paths: readonly string[], opts: LoadBasesOptions): Promise<BaseSet> {
  const set = new BaseSetBuilder();
  let keys: VerificationKey[] | undefined;
  for (const path of paths) {
    const doc = await readBaseDocument(path);
    let signer: string | undefined;
    if (doc.kind === 'receipt' && opts.receiptKeys.length > 0) {
      keys ??= await Promise.all(opts.receiptKeys.map((k) => loadPublicKey(k)));
      signer = (await checkReceiptSignature(path, doc.raw, keys)).signer;
    }
    set.add(doc, signer);
  }
  return set.build();
}
