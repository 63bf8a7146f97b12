import { AirlockError } from '../errors.js';
import { planDiff, readBaseDocument, type DiffResult } from '../bundle/index.js';

/**
 * `airlock bundle diff OLD NEW`: reads only the fronts (airlock.json) of two bundles, each a
 * bundle file, a volume, a directory or a bare airlock.json. OLD may also be an import receipt
 * (then "a delta from OLD" is the delta for that site). Pure comparison; no registry, no layer read.
 */
export async function diffBundles(oldPath: string, newPath: string): Promise<DiffResult> {
  const hint = 'name a bundle file, volume or directory, or its airlock.json (OLD may also be a receipt.json)';
  const [oldDoc, newDoc] = await Promise.all([readBaseDocument(oldPath, 'OLD', hint), readBaseDocument(newPath, 'NEW', hint)]);
  if (newDoc.kind !== 'bundle') {
    throw new AirlockError('USAGE', `NEW (${newPath}) is a receipt; it must be a bundle or its airlock.json`, {
      where: newPath, hint: 'a receipt can only be OLD: `airlock bundle diff receipt.json NEW`',
    });
  }
  return planDiff(oldDoc, newDoc);
}
