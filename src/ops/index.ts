export { exportBundle, bundleFormOf, type ExportOptions, type ExportResult } from './export.js';
export { importBundle, mapArtifacts, type ImportOptions, type ImportResult } from './import.js';
export { verifyBundle, type VerifyOptions, type VerifyResult } from './verify.js';
export { inspectBundle, type InspectResult } from './inspect.js';
export { diffBundles, planDiff, type DiffResult, type DiffSide, type DiffArtifact, type ChangedArtifact, type DiffBlob } from './diff.js';
export { loadBases, readBaseDocument, travels, type BaseSet, type BaseSource, type BaseDocument, type LoadBasesOptions } from './bases.js';
export { receiptSignaturePath } from './receipt-signing.js';
