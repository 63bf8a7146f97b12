import type * as ExportOp from './export.js';
import type * as ImportOp from './import.js';
import type * as VerifyOp from './verify.js';
import type * as InspectOp from './inspect.js';
import type * as ServeOp from './serve.js';
import type * as DiffOp from './diff.js';
import type * as BasesOp from './bases.js';
import type * as SiteOp from './site.js';
import type * as SiteRegistryOp from './site-registry.js';
import type * as ProbeOp from './registry-probe.js';
import type * as KeysOp from './keys.js';
import type * as ChartImagesOp from './chart-images.js';
import type * as SignaturePolicyOp from './signature-policy.js';

// The use cases load their modules on first call: a CLI command pays only for its own (export and
// import bring the registry client and undici, ~0.2 CPU-s; docs/BENCHMARKS.md "verify and startup").
// Every CLI command's work is one of these (test/unit/architecture.test.ts, "cli/ goes through ops/").
export const exportBundle: typeof ExportOp.exportBundle = async (...a) => (await import('./export.js')).exportBundle(...a);
export const importBundle: typeof ImportOp.importBundle = async (...a) => (await import('./import.js')).importBundle(...a);
export const verifyBundle: typeof VerifyOp.verifyBundle = async (...a) => (await import('./verify.js')).verifyBundle(...a);
export const inspectBundle: typeof InspectOp.inspectBundle = async (...a) => (await import('./inspect.js')).inspectBundle(...a);
export const serveBundle: typeof ServeOp.serveBundle = async (...a) => (await import('./serve.js')).serveBundle(...a);
export const diffBundles: typeof DiffOp.diffBundles = async (...a) => (await import('./diff.js')).diffBundles(...a);
export const repairVolumes: typeof import('../bundle/index.js').repairVolumes = async (...a) => (await import('../bundle/index.js')).repairVolumes(...a);
export const loadBases: typeof BasesOp.loadBases = async (...a) => (await import('./bases.js')).loadBases(...a);
export const siteStatus: typeof SiteOp.siteStatus = async (...a) => (await import('./site.js')).siteStatus(...a);
export const siteRollback: typeof SiteRegistryOp.siteRollback = async (...a) => (await import('./site-registry.js')).siteRollback(...a);
export const sitePrune: typeof SiteRegistryOp.sitePrune = async (...a) => (await import('./site-registry.js')).sitePrune(...a);
export const probeRegistry: typeof ProbeOp.probeRegistry = async (...a) => (await import('./registry-probe.js')).probeRegistry(...a);
export const generateKeys: typeof KeysOp.generateKeys = async (...a) => (await import('./keys.js')).generateKeys(...a);
export const listChartImages: typeof ChartImagesOp.listChartImages = async (...a) => (await import('./chart-images.js')).listChartImages(...a);
export const loadSignaturePolicy: typeof SignaturePolicyOp.loadSignaturePolicy = async (...a) => (await import('./signature-policy.js')).loadSignaturePolicy(...a);

export type { ExportOptions, ExportResult, SourceCredentials } from './export.js';
export type { ImportOptions, ImportResult } from './import.js';
export type { VerifyOptions, VerifyResult } from './verify.js';
export type { InspectResult } from './inspect.js';
export type { ServeOptions, ServeHandle } from './serve.js';
export type { LoadBasesOptions } from './bases.js';
export type { PolicyDecision, PolicyArtifactResult, PolicyCheck } from '../deploy/index.js';
export type { SiteStatusOptions } from './site.js';
export type { SiteRollbackOptions, SiteRollbackResult, SitePruneOptions, SitePruneResult } from './site-registry.js';
export type { ProbeRegistryOptions } from './registry-probe.js';
export type { GenerateKeysOptions, GenerateKeysResult } from './keys.js';
export type { SignaturePolicyInput } from './signature-policy.js';

// Types of the use cases' options, results and events that lower floors define: the CLI names
// them through ops/ only.
export type {
  BundleArtifact, ToolToCarry, ToolCheck, RepairResult, DiffResult, DiffSide, DiffArtifact, ChangedArtifact, DiffBlob,
} from '../bundle/index.js';
export type { CopyEvent, PlanDescription } from '../copy/index.js';
export type { ChartImage } from '../charts/index.js';
export type { ProbeResult, RegistryHostConfig } from '../registry/index.js';
export type { KeyType, SignaturePolicy, SignatureStatus } from '../signing/index.js';
