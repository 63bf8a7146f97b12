import { indexTar } from './tar-index.js';
import { indexZstdTar, type ZstdTarEntry } from './zstd-index.js';

/** Where an entry of a single-file archive lies: its file ranges, or (small, compressed) its bytes. */
export type EntryPlace = ZstdTarEntry;

/**
 * Where each entry of a whole .tar (one range each: tar-index.ts) or .tar.zst (ranges when stored
 * in raw blocks, bytes when small and compressed: zstd-index.ts) lies, for reading in place;
 * undefined when the file cannot be indexed (read it front to back instead).
 */
export async function locateEntries(path: string, form: 'tar' | 'tar.zst'): Promise<ReadonlyMap<string, EntryPlace> | undefined> {
  if (form === 'tar.zst') {
    const index = indexZstdTar(path);
    return index.ok ? index.entries : undefined;
  }
  const index = await indexTar(path).catch(() => undefined);
  if (!index) return undefined;
  return new Map([...index].map(([name, e]) => [name, { size: e.size, ranges: [{ offset: e.offset, length: e.size }] }]));
}
