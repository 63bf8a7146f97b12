import { readFile, stat } from 'node:fs/promises';
import { AirlockError, ioError } from '../errors.js';
import { digestOf, isManifestMediaType, type Digest } from '../oci/index.js';
import { parseReceipt, type Receipt } from '../deploy/index.js';
import { MAX_AIRLOCK_JSON_BYTES, bundleIdOf, parseAirlockManifest } from './manifest.js';
import { readBundleFront } from './reader.js';
import type { AirlockManifest, BundleBase } from './types.js';

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
 * The union of the `--since` bases, built one base document at a time in `--since` order (the
 * caller reads each with readBaseDocument and checks a receipt's signature before adding it).
 */
export class BaseSetBuilder {
  readonly #held = new Map<Digest, Digest[]>();
  readonly #records: BundleBase[] = [];
  readonly #sources: BaseSource[] = [];

  /** Add one base; the same base given twice is bad input. `signer`: who signed a receipt, when checked. */
  add(doc: BaseDocument, signer?: string): void {
    if (this.#records.some((r) => r.id === doc.id)) {
      throw new AirlockError('USAGE', `the same --since base was given twice: ${doc.id}`, { where: doc.path });
    }
    const created = doc.kind === 'receipt' ? doc.receipt.finished : doc.manifest.created;
    this.#records.push({ id: doc.id, kind: doc.kind, ...(created ? { created } : {}) });
    this.#sources.push({ id: doc.id, kind: doc.kind, path: doc.path, ...(signer ? { signer } : {}) });
    for (const d of heldDigests(doc)) {
      const list = this.#held.get(d);
      if (!list) this.#held.set(d, [doc.id]);
      else if (!list.includes(doc.id)) list.push(doc.id);
    }
  }

  build(): BaseSet {
    const held = new Map(this.#held);
    const records = [...this.#records];
    return { ids: records.map((r) => r.id), records, sources: [...this.#sources], holders: (d) => held.get(d) ?? [] };
  }
}

function isReceipt(raw: Buffer): boolean {
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { kind?: unknown };
    return doc.kind === 'airlock-receipt';
  } catch {
    return false;
  }
}
