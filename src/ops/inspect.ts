import { checkCarriedTool, readBundleFront, type BundleArtifact, type BundleBase, type ToolCheck, type ToolRecord } from '../bundle/index.js';
import { inspectSignature, type SignaturePolicy, type SignatureStatus } from '../signing/index.js';
import type { Digest } from '../oci/index.js';
import { evaluatePolicy, readPolicyFile } from '../mirror/index.js';
import type { PolicyDecision } from '../deploy/index.js';

export interface InspectResult {
  readonly version: 1;
  readonly bundleId: Digest;
  readonly formatVersion: number;
  readonly created: string;
  readonly tool: ToolRecord;
  readonly signature: SignatureStatus;
  readonly bases: readonly BundleBase[];
  readonly artifacts: readonly BundleArtifact[];
  readonly totals: {
    readonly artifacts: number;
    readonly blobs: number;
    readonly bytesIncluded: number;
    readonly bytesFromBases: number;
    /** Sum of every artifact's blobs minus the unique bytes: what dedup saved. */
    readonly bytesSavedByDedup: number;
  };
  readonly volumes?: { readonly count: number; readonly maxSize: number };
  /**
   * `export --include-tool`: the executable beside the bundle: `present` (its size matches; verify
   * and import check its sha256), `absent`, or `different` (another size: verify and import fail).
   */
  readonly carriedTool?: ToolCheck;
  /** `--policy FILE`: what an import with that policy would decide (inspect never refuses). */
  readonly policy?: PolicyDecision;
}

/** `airlock bundle inspect`: reads only the front of the bundle; reports the signature, never refuses. */
export async function inspectBundle(path: string, policy: SignaturePolicy, opts: { policyPath?: string | undefined } = {}): Promise<InspectResult> {
  const importPolicy = opts.policyPath !== undefined ? await readPolicyFile(opts.policyPath) : undefined;
  const front = await readBundleFront(path);
  const m = front.manifest;
  const signature = await inspectSignature(front.airlockRaw, front.signature, policy);
  const carriedTool = await checkCarriedTool(m, path, { hash: false });
  const included = m.blobs.filter((b) => b.location === 'bundle').reduce((s, b) => s + b.size, 0);
  const all = m.blobs.reduce((s, b) => s + b.size, 0);
  const before = m.artifacts.reduce((s, a) => s + (a.totalSize ?? 0), 0);
  return {
    version: 1,
    bundleId: front.id,
    formatVersion: m.version,
    created: m.created,
    tool: m.tool,
    signature,
    bases: m.bases,
    artifacts: m.artifacts,
    totals: { artifacts: m.artifacts.length, blobs: m.blobs.length, bytesIncluded: included, bytesFromBases: all - included, bytesSavedByDedup: Math.max(0, before - all) },
    ...(m.volumes ? { volumes: m.volumes } : {}),
    ...(carriedTool ? { carriedTool } : {}),
    ...(importPolicy ? { policy: await evaluatePolicy(importPolicy, m, front.metadata, { trustedRootPath: policy.keyless?.trustedRootPath, bundleVerified: signature.verified }) } : {}),
  };
}
