export { exportBundle, bundleFormOf, type ExportOptions, type ExportResult } from './export.js';
export { importBundle, mapArtifacts, type ImportOptions, type ImportResult } from './import.js';
export { verifyBundle, type VerifyOptions, type VerifyResult } from './verify.js';
export { inspectBundle, type InspectResult } from './inspect.js';
