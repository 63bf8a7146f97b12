import { indexTar } from './tar-index.js';
import { indexZstdTar, type ZstdTarEntry } from './zstd-index.js';

/** Where an entry of a single-file archive lies: its file ranges, or (small, compressed) its bytes. */
export type EntryPlace = ZstdTarEntry;

/**
 * Where each entry of a whole .tar (one range each: tar-index.ts) or .tar.zst (ranges when stored
 * in raw blocks, bytes when small and compressed: zstd-index.ts) lies, for reading in place;
 * undefined when the file cannot be indexed (read it front to back instead).
 */
export async function locateEntries(path: string, form: 'tar' | 'tar.zst', opts: LocateOptions = {}): Promise<ReadonlyMap<string, EntryPlace> | undefined> {
  if (form === 'tar.zst') {
    const index = indexZstdTar(path, opts.onEntry ? { onEntry: opts.onEntry } : {});
    return index.ok ? index.entries : undefined;
  }
  const index = await indexTar(path).catch(() => undefined);
  if (!index) return undefined;
  const places = new Map([...index].map(([name, e]): [string, EntryPlace] => [name, { size: e.size, ranges: [{ offset: e.offset, length: e.size }] }]));
  for (const [name, e] of places) opts.onEntry?.(name, e);
  return places;
}

export interface LocateOptions {
  /** Each entry as soon as it is located (zstd-index.ts IndexZstdTarOptions.onEntry): no promise until the whole file is. */
  readonly onEntry?: (name: string, entry: EntryPlace) => void;
}
