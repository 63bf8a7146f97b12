import { AirlockError } from '../errors.js';
import type { TarEntry } from '../archive/index.js';
import { verifyBytes } from '../content/index.js';
import type { Digest } from '../oci/index.js';
import type { AirlockManifest } from './types.js';
import { parseEntryName } from './entry-names.js';
import { MAX_AIRLOCK_JSON_BYTES, bundleIdOf, parseAirlockManifest } from './manifest.js';
import {
  MAX_INDEX_JSON_BYTES, MAX_OCI_LAYOUT_BYTES, MAX_SIGNATURE_BYTES, parseLayoutIndex, parseOciLayout, type LayoutIndex,
} from './layout-files.js';
import { MAX_METADATA_BYTES, MetadataTracker } from './metadata.js';

/** What a bundle says before its first layer: enough to verify the signature and plan an import. */
export interface FrontData {
  readonly airlockRaw: Buffer;
  readonly manifest: AirlockManifest;
  /** The bundle id: sha256 of airlock.json. */
  readonly id: Digest;
  readonly signature: Buffer | undefined;
  readonly ociLayoutRaw: Buffer;
  readonly indexRaw: Buffer;
  readonly index: LayoutIndex;
  /** Every manifest, index and config in the bundle, verified against its digest. */
  readonly metadata: ReadonlyMap<Digest, Buffer>;
}

export interface FrontResult<E extends FrontEntry = FrontEntry> {
  readonly front: FrontData;
  readonly tracker: MetadataTracker;
  /** The first entry after the front, not yet consumed; undefined at the end of the archive. */
  readonly next: E | undefined;
}

/** An archive entry as the front reader sees it: its name and size, and its body read whole. */
export interface FrontEntry {
  readonly path: string;
  readonly size: number;
  /** The whole body, at most once, after `size` has been checked. */
  bytes(): Buffer | Promise<Buffer>;
}

const unreadable = (what: string, where: string, hint = 'the bundle is damaged or was not written by airlock: copy it again'): AirlockError =>
  new AirlockError('BUNDLE_UNREADABLE', what, { where, hint });

/** Read a small entry whole, refusing more than `max` bytes. */
export async function readEntryCapped(entry: FrontEntry, max: number, where: string): Promise<Buffer> {
  if (entry.size > max) {
    throw unreadable(`${entry.path} is ${entry.size} bytes, more than the ${max} allowed`, `${where}, entry ${entry.path}`);
  }
  return entry.bytes();
}

/** The entries of a streaming tar reader, each able to read its body whole. */
export async function* frontEntriesOf(it: AsyncIterator<TarEntry>): AsyncGenerator<TarEntry & FrontEntry, void, undefined> {
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    const e = r.value;
    yield Object.assign(e, {
      bytes: async (): Promise<Buffer> => {
        const chunks: Buffer[] = [];
        for await (const c of e.body as AsyncIterable<Buffer>) chunks.push(c);
        return Buffer.concat(chunks);
      },
    });
  }
}

/**
 * Read the front of a bundle tar: airlock.json, the optional signature, oci-layout, index.json,
 * then every manifest and config (docs/ARCHITECTURE.md "The bundle format": they come first). Stops at the first
 * layer without reading it. With `expectAirlock`, a later volume must carry the same airlock.json.
 */
export async function readFrontEntries<E extends FrontEntry>(
  it: AsyncIterator<E> | Iterator<E>,
  where: string,
  expectAirlock?: Buffer,
): Promise<FrontResult<E>> {
  const next = async (): Promise<E | undefined> => {
    const r = await it.next();
    return r.done ? undefined : r.value;
  };
  let e = await next();
  if (!e || e.path !== 'airlock.json') {
    throw unreadable(
      e ? `the first entry is ${JSON.stringify(e.path)}, not airlock.json: this is not an airlock bundle` : 'the archive is empty: this is not an airlock bundle',
      where,
      'pass a bundle written by `airlock bundle export`',
    );
  }
  const airlockRaw = await readEntryCapped(e, MAX_AIRLOCK_JSON_BYTES, where);
  if (expectAirlock && !airlockRaw.equals(expectAirlock)) {
    throw unreadable('this volume belongs to another bundle: its airlock.json differs from the first volume\'s', where,
      'pass only volumes written by the same export');
  }
  const manifest = parseAirlockManifest(airlockRaw, `${where}, entry airlock.json`);

  e = await next();
  let signature: Buffer | undefined;
  if (e?.path === 'airlock.sigstore.json') {
    signature = await readEntryCapped(e, MAX_SIGNATURE_BYTES, where);
    e = await next();
  }
  if (e?.path !== 'oci-layout') throw outOfOrder(e, 'oci-layout', where);
  const ociLayoutRaw = await readEntryCapped(e, MAX_OCI_LAYOUT_BYTES, where);
  parseOciLayout(ociLayoutRaw, `${where}, entry oci-layout`);
  e = await next();
  if (e?.path !== 'index.json') throw outOfOrder(e, 'index.json', where);
  const indexRaw = await readEntryCapped(e, MAX_INDEX_JSON_BYTES, where);
  const index = parseLayoutIndex(indexRaw, `${where}, entry index.json`);
  const listed = new Set(manifest.blobs.map((b) => b.digest));
  for (const d of index.manifests) {
    if (!listed.has(d.digest)) throw unreadable(`index.json names ${d.digest}, which airlock.json does not list`, `${where}, entry index.json`);
  }

  const tracker = new MetadataTracker(manifest, where);
  const metadata = new Map<Digest, Buffer>();
  let total = 0;
  for (;;) {
    if (tracker.complete) {
      e = await next();
      break;
    }
    e = await next();
    if (!e) {
      throw new AirlockError('BUNDLE_INCOMPLETE', 'the archive ends before all manifests and configs', {
        where, hint: 'the file is incomplete: copy it again and check it against checksums.txt',
      });
    }
    const name = parseEntryName(e.path);
    if (name?.kind !== 'blob' || !tracker.blobs.has(name.digest)) throw notListed(e, where);
    if (!tracker.expects(name.digest)) throw notListed(e, where);
    const blob = tracker.blobs.get(name.digest)!;
    if (e.size !== blob.size) throw sizeDiffers(e, blob.size, where);
    total += blob.size;
    if (total > MAX_METADATA_BYTES) throw unreadable(`manifests and configs add up to more than ${MAX_METADATA_BYTES} bytes`, where);
    const data = await e.bytes();
    verifyBytes(data, blob, { where: `${where}, entry ${e.path}` });
    tracker.add(name.digest, data);
    metadata.set(name.digest, data);
  }
  return {
    front: { airlockRaw, manifest, id: bundleIdOf(airlockRaw), signature, ociLayoutRaw, indexRaw, index, metadata },
    tracker,
    next: e,
  };
}

function outOfOrder(e: { readonly path: string } | undefined, expected: string, where: string): AirlockError {
  return unreadable(e ? `entry ${JSON.stringify(e.path)} comes where ${expected} belongs` : `the archive ends before ${expected}`, where,
    'a bundle starts with airlock.json, airlock.sigstore.json, oci-layout, index.json: this one was reordered or damaged');
}

export function notListed(e: { path: string }, where: string): AirlockError {
  return new AirlockError('UNSAFE_ARCHIVE_ENTRY', `entry ${JSON.stringify(e.path.slice(0, 200))} is not listed in airlock.json or is out of place`, {
    where: `${where}, entry ${e.path}`,
    hint: 'the bundle was altered after it was written: do not use it, get a fresh copy',
  });
}

export function sizeDiffers(e: { path: string; size: number }, expected: number, where: string): AirlockError {
  return new AirlockError('SIZE_MISMATCH', `entry ${e.path} holds ${e.size} bytes; airlock.json says ${expected}`, {
    where: `${where}, entry ${e.path}`,
    hint: 'the bundle was altered after it was written: get a fresh copy',
  });
}
