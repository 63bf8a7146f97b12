export * from './types.js';
export { parseAirlockManifest, bundleIdOf, readBundleManifestFile, isSafeFileName, MAX_AIRLOCK_JSON_BYTES, MAX_BLOBS, MAX_ARTIFACTS, type ManifestFile } from './manifest.js';
export { blobEntryName, bundleLabel, pieceEntryName, parseEntryName, OCI_LAYOUT_FILE, INDEX_JSON, CHECKSUMS_FILE, type EntryName } from './entry-names.js';
export { parseOciLayout, parseLayoutIndex, type LayoutIndex } from './layout-files.js';
export { MetadataTracker, MAX_METADATA_BYTES } from './metadata.js';
export {
  planVolumes, computePieceDigests, applyVolumePlan, usableTarBytes,
  type VolumeBlob, type VolumePlan, type PlannedVolume, type PlannedPiece, type CutBlob, type PlanVolumesOptions, type ReadBlob,
} from './volume-plan.js';
export { writeBundle, writesInPlace, placedInBundle, removeStaleTemporaries, stagingDirFor, tempNameFor, type WriteBundleOptions, type WriteBundleResult, type WrittenFile, type OutputForm } from './writer.js';
export {
  openBundle, readBundleFront,
  type BundleReader, type BundleBlobEntry, type BlobsOptions, type EntryInPlace, type GivenVolume, type MissingBlob, type OpenBundleOptions, type BundleFrontResult, type FrontData,
} from './reader.js';
export { BundleContentSource } from './source.js';
export { stageTool, publishTool, discardTool, checkCarriedTool, type ToolToCarry, type StagedTool, type ToolCheck } from './carried-tool.js';
export { planDiff, type DiffResult, type DiffSide, type DiffArtifact, type ChangedArtifact, type DiffBlob } from './diff.js';
export { travels, heldDigests, readBaseDocument, BaseSetBuilder, type BaseSet, type BaseSource, type BaseDocument } from './bases.js';
export { writeParity, repairVolumes, readParityInfo, parityFileName, type ParityInfo, type ParityWritten, type RepairResult, type RepairOptions } from './parity.js';
