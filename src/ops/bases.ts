import { readFile, stat } from 'node:fs/promises';
import { AirlockError, ioError } from '../errors.js';
import { digestOf, type Digest } from '../oci/index.js';
import { bundleIdOf, parseAirlockManifest, readBundleFront, type BundleBase } from '../bundle/index.js';
import { parseReceipt } from '../deploy/index.js';

/** What the other side already has: the union of every `--since` base. */
export interface BaseSet {
  readonly ids: readonly Digest[];
  readonly records: readonly BundleBase[];
  /** Ids of the bases that hold `digest` ([] when none). */
  holders(digest: Digest): Digest[];
}

export interface LoadBasesOptions {
  /** Public keys that must have signed a receipt (`--receipt-key`). */
  readonly receiptKeys: readonly string[];
}

/**
 * Read each `--since` base: a bundle (file, volume, directory), its bare airlock.json, or an import
 * receipt.json. A base bundle's own bases count too (their blobs reached the site before it), so
 * deltas chain.
 */
export async function loadBases(paths: readonly string[], _opts: LoadBasesOptions): Promise<BaseSet> {
  const held = new Map<Digest, Digest[]>();
  const records: BundleBase[] = [];
  for (const path of paths) {
    const s = await stat(path).catch((err: unknown) => {
      throw ioError(err, 'read the --since base', path);
    });
    let id: Digest;
    let digests: Iterable<Digest>;
    let kind: BundleBase['kind'] = 'bundle';
    let created: string | undefined;
    const raw = s.isFile() && s.size < 64 * 1024 * 1024 && path.endsWith('.json') ? await readFile(path) : undefined;
    if (raw && isReceipt(raw)) {
      const receipt = parseReceipt(raw, path);
      id = digestOf(raw);
      digests = receipt.digests;
      kind = 'receipt';
      created = receipt.finished;
    } else {
      const airlockJson = raw ?? (await readBundleFront(path)).airlockRaw;
      const manifest = parseAirlockManifest(airlockJson, path);
      id = bundleIdOf(airlockJson);
      digests = manifest.blobs.map((b) => b.digest);
      created = manifest.created;
    }
    records.push({ id, kind, ...(created ? { created } : {}) });
    for (const d of digests) {
      const list = held.get(d);
      if (list) {
        if (!list.includes(id)) list.push(id);
      } else held.set(d, [id]);
    }
  }
  if (records.length !== new Set(records.map((r) => r.id)).size) {
    throw new AirlockError('USAGE', 'the same --since base was given twice');
  }
  return { ids: records.map((r) => r.id), records, holders: (d) => held.get(d) ?? [] };
}

function isReceipt(raw: Buffer): boolean {
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { kind?: unknown };
    return doc.kind === 'airlock-receipt';
  } catch {
    return false;
  }
}
