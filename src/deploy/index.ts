export { type Receipt, type ReceiptArtifact, type PolicyCheck, type PolicyArtifactResult, type PolicyDecision, parseReceipt } from './receipt.js';
export { writeDeployOutputs, type DeployOutputsOptions, type MappedArtifact } from './outputs.js';
export { AuditLog, type AuditEntry } from './audit.js';
export { mirrorConfigFiles, K3S_CA_FILE, type TargetAccess, type MirrorConfigOptions, type OutputFile } from './mirror-config.js';
export { type TagMove } from './receipt.js';
export { SiteState, tagMovesOf, lastImportMoveOnto, type ImportRecord, type SiteReceipt } from './site-state.js';
export { computeSiteStatus, prometheusText, type SiteStatus } from './site-status.js';
// rewrite.js (rewriteValues, rewriteCompose) is deploy's own: site-outputs.ts loads it, and the yaml
// library with it, only for --values and --compose files (docs/BENCHMARKS.md, no-op re-import).
export { pullSecretYaml, type PullSecretOptions, type ReleaseRecord, type ReleaseRecordFile, type ReleaseRecordArtifact } from './site-files.js';
export { readDeployInputs, writeRewrittenFiles, writePullSecret, type DeployInput, type RewrittenFile } from './site-outputs.js';
export { errorToRecord } from './site-record.js';
export { currentDigest, keepPreviousTag, historyTagPattern } from './tag-history.js';
export { targetAccess } from './target-access.js';
export {
  prunePlansFromReceipts, planRepositoryPrune, readPending, deletePrunedManifests,
  type PruneManifest, type PendingPrune, type RepositoryPrunePlan, type RepositoryPruneResult,
} from './prune.js';
