export * from './types.js';
export { walkGraph, closure, fetchManifestBytes, type WalkOptions, type WalkResult } from './walk.js';
export { executeCopy, type BlobSupply, type ExecuteOptions, type ExecuteReport, type SuppliedBlob, type InPlaceHashOptions } from './execute.js';
export { planCopy, describePlan, formatSource, rootSource, blobOrder, PlanSource, type PlanCopyInput, type PlanDescription, type SourceOpeners } from './plan.js';
export { FileJournal, forgetInJournals, journalKey, tagJournalKey, parseJournalKey, type JournalStep } from './journal.js';
export { CacheFirstSource, type CacheFirstOptions } from './cache-first.js';
export { findStaleClaim, type JournalCheckOptions } from './journal-check.js';
