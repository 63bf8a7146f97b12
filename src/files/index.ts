// Plain files as OCI artifacts: made at export, delivered (and optionally pushed) at import.
export {
  buildFileArtifact, mediaTypeForFile, tagForFile, EMPTY_DESCRIPTOR, EMPTY_JSON, FILES_REPOSITORY,
  type CarriedArtifact, type BuildFileArtifactOptions,
} from './artifact.js';
export { ingestUrl, ingestPath, type IngestedBlob, type IngestUrlOptions } from './ingest.js';
export { resolveFileEntry, type HostSettings, type ResolveFileOptions } from './resolve.js';
export { planDeliveries, deliverBlobs, writeDeliveryChecksums, type Delivery, type DeliveryTracker } from './deliver.js';
export { parseChecksums, checkReleaseSet, MAX_CHECKSUMS_BYTES, type ChecksumLine, type ParsedChecksums, type ReleaseFile, type ReleaseSetCheck } from './checksums.js';
export {
  checkReleaseFilesAtExport, recheckReleaseFiles,
  type ExportReleaseFilesOptions, type ReleaseFileDetails, type ReleaseFilesCheck,
} from './release-signatures.js';
