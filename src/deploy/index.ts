export { type Receipt, type ReceiptArtifact, parseReceipt } from './receipt.js';
export { writeDeployOutputs, type DeployOutputsOptions, type MappedArtifact } from './outputs.js';
export { AuditLog, type AuditEntry } from './audit.js';
