import { AirlockError } from '../errors.js';
import { isDigest, type Digest } from '../oci/index.js';

/** receipt.json: what one import left in the target. A valid `--since` base for the next export. */
export interface Receipt {
  readonly version: 1;
  readonly kind: 'airlock-receipt';
  readonly bundleId: Digest;
  /** When the bundle was made (airlock.json `created`): how old the newest content at the site is. */
  readonly bundleCreated?: string;
  readonly bases: readonly Digest[];
  readonly signer?: string;
  readonly target: string;
  readonly layout: 'flat' | 'scoped';
  readonly started: string;
  readonly finished: string;
  readonly complete: boolean;
  readonly artifacts: readonly ReceiptArtifact[];
  /** Every digest the target holds for this bundle's artifacts (manifests and blobs). */
  readonly digests: readonly Digest[];
  /** `import --policy`: the policy that decided (its digest) and each artifact's result. */
  readonly policy?: PolicyDecision;
  /** Tags this import moved off another digest (a new tag is not a move). */
  readonly tagMoves?: readonly TagMove[];
}

/** A tag that an import (or a rollback) moved: where it pointed before, and where it points now. */
export interface TagMove {
  /** Target repository path (no host). */
  readonly repository: string;
  readonly tag: string;
  readonly previous: Digest;
  readonly digest: Digest;
  /** `--keep-previous-tags`: the history tag that still points at `previous`. */
  readonly historyTag?: string;
}

/** One rule's verdict on one artifact (mirror/policy-gate.ts). */
export interface PolicyCheck {
  /** 1-based position of the rule in the policy file. */
  readonly rule: number;
  readonly kind: 'signature' | 'sbom' | 'provenance' | 'registries' | 'platforms';
  readonly passed: boolean;
  /** What was found: the signer, the SBOM referrer's digest, the platform outside the set, ... */
  readonly detail: string;
}

export interface PolicyArtifactResult {
  readonly kind: string;
  readonly source: string;
  readonly digest: string;
  readonly allowed: boolean;
  /** Only the rules that apply to this artifact. */
  readonly checks: readonly PolicyCheck[];
}

/** The policy gate's decision: in the import result, receipt.json (signed with it) and `inspect --policy`. */
export interface PolicyDecision {
  readonly version: 1;
  /** The policy file as given. */
  readonly policy: string;
  /** `sha256:<hex>` of the policy file's bytes. */
  readonly digest: string;
  readonly allowed: boolean;
  readonly artifacts: readonly PolicyArtifactResult[];
}

export interface ReceiptArtifact {
  readonly kind: string;
  readonly source: string;
  readonly target: string;
  /** The tag set in the target (also when the source had none: a `tag:` the mirror list gave). */
  readonly tag?: string;
  readonly digest: Digest;
  readonly status: 'pushed' | 'present' | 'waiting';
}

export function parseReceipt(raw: Buffer, where: string): Receipt {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'receipt is not valid JSON', { where, cause: err });
  }
  const r = doc as Partial<Receipt>;
  if (r.kind !== 'airlock-receipt' || r.version !== 1) {
    throw new AirlockError('BUNDLE_VERSION', 'not an airlock receipt of version 1', { where, hint: 'pass the receipt.json written by `airlock bundle import --out-dir`' });
  }
  if (!isDigest(r.bundleId) || !Array.isArray(r.digests) || !r.digests.every(isDigest)) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'receipt has an invalid bundleId or digests list', { where });
  }
  return r as Receipt;
}
