export { createTarWriter, type TarWriter, type EntryBodySource } from './tar-writer.js';
export { readTarEntries, type TarEntry, type ReadTarOptions } from './tar-reader.js';
export { indexTar, type TarIndexEntry, type IndexTarOptions } from './tar-index.js';
export {
  tarEntryBytes, paddingOf, normalizeEntryPath, TAR_END_BYTES, BLOCK_SIZE, type FileHeaderOptions,
} from './tar-header.js';
export {
  createZstdCompressStream, createZstdDecompressStream, isZstdMagic, zstdCompressBound, DEFAULT_MAX_WINDOW_LOG,
  type ZstdCompressOptions, type ZstdCompressStream, type ZstdDecompressOptions,
} from './zstd.js';
export {
  detectBundleForm, parseVolumeName, formatVolumeName, stripBundleExtension, type BundleForm, type VolumeName,
} from './detect.js';
export { createZstdFileStream, type ZstdFileStream, type ZstdFileStreamOptions } from './zstd-file.js';
export { layoutArchive, regionRanges, PlacedFile, type ArchiveLayout, type PlacedEntry, type PlacedRegion } from './placed.js';
export { FileHasher } from './file-hasher.js';
export { indexZstdTar, type ZstdTarIndex, type ZstdTarEntry, type FileRange, type IndexZstdTarOptions } from './zstd-index.js';
export { readFileRanges } from './range-reader.js';
export { bytesOfRanges, expandRanges, rangeBytes, rangeEnd, runBlock } from './range-span.js';
export { locateEntries, type EntryPlace, type LocateOptions } from './locate.js';
export {
  openTarTree, openDirTree, removeStaleUnpacked, resolveLinkTarget, type FileTree, type OpenTarTreeOptions,
} from './file-tree.js';
export { SyncTarFile } from './sync-tar.js';
export { RangeHasherPool, type RangeHash, type RangeHashOptions } from './range-hasher.js';
