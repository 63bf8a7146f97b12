import { readFile, stat } from 'node:fs/promises';
import { AirlockError, ioError } from '../errors.js';
import { digestOf, isManifestMediaType, type Digest } from '../oci/index.js';
import {
  MAX_AIRLOCK_JSON_BYTES, bundleIdOf, parseAirlockManifest, readBundleFront, type AirlockManifest, type BundleBase,
} from '../bundle/index.js';
import { parseReceipt, type Receipt } from '../deploy/index.js';
import { loadPublicKey, type VerificationKey } from '../signing/index.js';
import { checkReceiptSignature } from './receipt-signing.js';

/** What the other side already has: the union of every `--since` base. */
export interface BaseSet {
  readonly ids: readonly Digest[];
  /** As recorded in airlock.json's `bases`. */
  readonly records: readonly BundleBase[];
  /** Where each base came from, in `--since` order. */
  readonly sources: readonly BaseSource[];
  /** Ids of the bases that hold `digest` ([] when none). */
  holders(digest: Digest): Digest[];
}

export interface BaseSource {
  readonly id: Digest;
  readonly kind: BundleBase['kind'];
  readonly path: string;
  /** Receipts checked with --receipt-key: the fingerprint of the key that signed. */
  readonly signer?: string;
}

export interface LoadBasesOptions {
  /** Public keys (paths) one of which must have signed every receipt base (`--receipt-key`). */
  readonly receiptKeys: readonly string[];
}

/** One `--since` argument, read: a bundle's airlock.json (from the bundle, a volume, a directory, or bare) or a receipt. */
export type BaseDocument =
  | { readonly kind: 'bundle'; readonly id: Digest; readonly path: string; readonly raw: Buffer; readonly manifest: AirlockManifest }
  | { readonly kind: 'receipt'; readonly id: Digest; readonly path: string; readonly raw: Buffer; readonly receipt: Receipt };

/**
 * The delta rule, shared by export and `bundle diff`: manifests and indexes always travel (the
 * importer plans from them before any layer arrives); every other blob (config or layer) is left
 * out when a base holds it.
 */
export function travels(mediaType: string, heldByBase: boolean): boolean {
  return isManifestMediaType(mediaType) || !heldByBase;
}

/** Every digest a base document says the other side holds. */
export function heldDigests(doc: BaseDocument): readonly Digest[] {
  // A bundle's blobs left to its own bases count too: they reached the site before it, so deltas chain.
  return doc.kind === 'receipt' ? doc.receipt.digests : doc.manifest.blobs.map((b) => b.digest);
}

/** Read a bundle file, volume or directory, a bare airlock.json, or a receipt.json: only the small front. */
export async function readBaseDocument(
  path: string,
  what = 'the --since base',
  hint = 'name an earlier bundle, its airlock.json, or an import receipt.json',
): Promise<BaseDocument> {
  const s = await stat(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AirlockError('USAGE', `${what} ${path} does not exist`, { where: path, hint });
    }
    throw ioError(err, `read ${what}`, path);
  });
  if (s.isFile() && path.endsWith('.json')) {
    if (s.size > MAX_AIRLOCK_JSON_BYTES) {
      throw new AirlockError('BUNDLE_UNREADABLE', `${path} is larger than ${MAX_AIRLOCK_JSON_BYTES} bytes`, { where: path });
    }
    const raw = await readFile(path).catch((err: unknown) => {
      throw ioError(err, `read ${what}`, path);
    });
    if (isReceipt(raw)) return { kind: 'receipt', id: digestOf(raw), path, raw, receipt: parseReceipt(raw, path) };
    return { kind: 'bundle', id: bundleIdOf(raw), path, raw, manifest: parseAirlockManifest(raw, path) };
  }
  const front = await readBundleFront(path);
  return { kind: 'bundle', id: front.id, path, raw: front.airlockRaw, manifest: front.manifest };
}

/**
 * Read each `--since` base: a bundle (file, volume, directory), its bare airlock.json, or an import
 * receipt.json. With `receiptKeys`, every receipt must carry a valid signature by one of them
 * (receipt.sigstore.json beside it), or the export stops with exit 3 before any download.
 */
export async function loadBases(paths: readonly string[], opts: LoadBasesOptions): Promise<BaseSet> {
  const held = new Map<Digest, Digest[]>();
  const records: BundleBase[] = [];
  const sources: BaseSource[] = [];
  let keys: VerificationKey[] | undefined;
  for (const path of paths) {
    const doc = await readBaseDocument(path);
    let signer: string | undefined;
    if (doc.kind === 'receipt' && opts.receiptKeys.length > 0) {
      keys ??= await Promise.all(opts.receiptKeys.map((k) => loadPublicKey(k)));
      signer = (await checkReceiptSignature(path, doc.raw, keys)).signer;
    }
    if (records.some((r) => r.id === doc.id)) {
      throw new AirlockError('USAGE', `the same --since base was given twice: ${doc.id}`, { where: path });
    }
    const created = doc.kind === 'receipt' ? doc.receipt.finished : doc.manifest.created;
    records.push({ id: doc.id, kind: doc.kind, ...(created ? { created } : {}) });
    sources.push({ id: doc.id, kind: doc.kind, path, ...(signer ? { signer } : {}) });
    for (const d of heldDigests(doc)) {
      const list = held.get(d);
      if (!list) held.set(d, [doc.id]);
      else if (!list.includes(doc.id)) list.push(doc.id);
    }
  }
  return { ids: records.map((r) => r.id), records, sources, holders: (d) => held.get(d) ?? [] };
}

function isReceipt(raw: Buffer): boolean {
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { kind?: unknown };
    return doc.kind === 'airlock-receipt';
  } catch {
    return false;
  }
}
