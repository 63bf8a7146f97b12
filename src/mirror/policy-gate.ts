/**
 * The import policy gate (`--policy FILE`; mirror/policy.ts reads the file, this judges a bundle by it): every image and chart of
 * a bundle is judged, offline, from the signed airlock.json and the manifests and configs at the
 * bundle's front, before anything is pushed. A rule judges an artifact only when it applies to it;
 * an artifact is allowed when every rule that applies passes. The decision (the policy's digest and
 * each artifact's result) goes into the signed receipt, and `bundle inspect --policy` shows it.
 */
import { AirlockError, MultiError, isAirlockError } from '../errors.js';
import {
  ANNOTATION_COSIGN_PREDICATE_TYPE, ANNOTATION_DOCKER_REFERENCE_TYPE, ANNOTATION_IN_TOTO_PREDICATE_TYPE, ANNOTATION_SIGSTORE_PREDICATE_TYPE,
  DOCKER_REFERENCE_TYPE_ATTESTATION, MEDIA_TYPE_CYCLONEDX_JSON, MEDIA_TYPE_CYCLONEDX_XML, MEDIA_TYPE_SPDX_JSON, MEDIA_TYPE_SPDX_TEXT,
  MEDIA_TYPE_SYFT_JSON, PREDICATE_CYCLONEDX_PREFIX, PREDICATE_SLSA_PROVENANCE_PREFIX, PREDICATE_SPDX_PREFIX,
  formatPlatform, parseManifest, type Digest, type Manifest,
} from '../oci/index.js';
import { globMatch, type ImportPolicy, type PolicyRule } from './policy.js';
import type { AirlockManifest, BundleArtifact } from '../bundle/index.js';
import { registryOf } from '../reference/index.js';
import { loadPublicKey, reverifyArtifactSignature, type UpstreamTrustOverride, type VerificationKey } from '../signing/index.js';
import type { PolicyArtifactResult, PolicyCheck, PolicyDecision } from '../deploy/index.js';

export interface EvaluatePolicyOptions {
  /** The importer's own --trusted-root: for keyless rules without their own `trustedRoot`. */
  readonly trustedRootPath?: string | undefined;
  /**
   * Whether the signature over airlock.json verified. Default true. When it did not
   * (`--insecure-skip-signature`), the trusted roots carried in airlock.json are anyone's: a
   * keyless rule then needs its own `trustedRoot` or `--trusted-root`.
   */
  readonly bundleVerified?: boolean | undefined;
}

const SBOM_ARTIFACT_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPE_SPDX_JSON, MEDIA_TYPE_SPDX_TEXT, MEDIA_TYPE_CYCLONEDX_JSON, MEDIA_TYPE_CYCLONEDX_XML, MEDIA_TYPE_SYFT_JSON]);
const isSbomPredicate = (t: string): boolean => t.startsWith(PREDICATE_SPDX_PREFIX) || t.startsWith(PREDICATE_CYCLONEDX_PREFIX);
const isProvenancePredicate = (t: string): boolean => t.startsWith(PREDICATE_SLSA_PROVENANCE_PREFIX);

/** Judge every image and chart of the bundle. Never throws for a violation: see assertPolicyAllows. */
export async function evaluatePolicy(
  policy: ImportPolicy, manifest: AirlockManifest, metadata: ReadonlyMap<Digest, Buffer>, opts: EvaluatePolicyOptions = {},
): Promise<PolicyDecision> {
  // Keys are read once, now: a rule naming a file that is not a public key is bad input (exit 2).
  const keys = new Map<string, VerificationKey>();
  for (const rule of policy.rules) {
    if (rule.kind === 'signature' && rule.key && !keys.has(rule.key)) {
      try {
        keys.set(rule.key, await loadPublicKey(rule.key));
      } catch (err) {
        throw new AirlockError('POLICY_INVALID', `rule ${rule.index + 1} of ${policy.path}: ${(err as Error).message}`, { cause: err, where: rule.where, hint: 'key: names the vendor\'s public key file (PEM), relative to the policy file' });
      }
    }
  }
  const referrers = manifest.artifacts.filter((a) => a.kind === 'referrer');
  const results: PolicyArtifactResult[] = [];
  for (const a of manifest.artifacts) {
    if (a.kind !== 'image' && a.kind !== 'chart') continue;
    const checks: PolicyCheck[] = [];
    for (const rule of policy.rules) {
      const check = await judge(rule, a, { referrers, metadata, keys, trustedRootPath: opts.trustedRootPath, bundleVerified: opts.bundleVerified ?? true });
      if (check) checks.push(check);
    }
    results.push({ kind: a.kind, source: a.source, digest: a.digest, allowed: checks.every((c) => c.passed), checks });
  }
  return { version: 1, policy: policy.path, digest: policy.digest, allowed: results.every((r) => r.allowed), artifacts: results };
}

/** Throw POLICY_VIOLATION (exit 3) listing every refused artifact and why. */
export function assertPolicyAllows(decision: PolicyDecision): void {
  if (decision.allowed) return;
  const refused = decision.artifacts.filter((a) => !a.allowed);
  const problems = refused.map((a) => new AirlockError('POLICY_VIOLATION',
    `${a.source}: ${a.checks.filter((c) => !c.passed).map((c) => `rule ${c.rule} (${c.kind}): ${c.detail}`).join('; ')}`));
  throw new MultiError('POLICY_VIOLATION', `the policy ${decision.policy} refuses ${refused.length} of ${decision.artifacts.length} artifact(s); nothing was pushed`, problems, {
    where: decision.policy,
    hint: 'ask the DMZ for a bundle that meets the policy, or change the policy; `--dry-run` shows every decision',
  });
}

interface JudgeContext {
  readonly referrers: readonly BundleArtifact[];
  readonly metadata: ReadonlyMap<Digest, Buffer>;
  readonly keys: ReadonlyMap<string, VerificationKey>;
  readonly trustedRootPath: string | undefined;
  readonly bundleVerified: boolean;
}

async function judge(rule: PolicyRule, a: BundleArtifact, ctx: JudgeContext): Promise<PolicyCheck | undefined> {
  const base = { rule: rule.index + 1, kind: rule.kind };
  const repository = a.repository ?? '';
  switch (rule.kind) {
    case 'registries': {
      const registry = registryOf(repository);
      const ok = rule.allow.some((g) => globMatch(g, registry));
      return { ...base, passed: ok, detail: ok ? `from ${registry}` : `from ${registry}, which is not in allow (${rule.allow.join(', ')})` };
    }
    case 'platforms': {
      if (a.kind !== 'image') return undefined;
      const platforms = platformsOf(a, ctx.metadata);
      if (platforms.length === 0) return { ...base, passed: true, detail: 'no platform recorded (not a runnable image)' };
      const outside = platforms.filter((p) => !rule.allow.some((allowed) => platformAllowed(allowed, p)));
      return outside.length === 0
        ? { ...base, passed: true, detail: platforms.join(', ') }
        : { ...base, passed: false, detail: `platform(s) ${outside.join(', ')} outside allow (${rule.allow.join(', ')})` };
    }
    case 'sbom':
    case 'provenance': {
      if (!rule.sources.some((g) => globMatch(g, repository))) return undefined;
      const found = findAttached(a, ctx, rule.kind);
      const what = rule.kind === 'sbom' ? 'SBOM' : 'SLSA provenance attestation';
      return found
        ? { ...base, passed: true, detail: `${what}: ${found}` }
        : { ...base, passed: false, detail: `no ${what} travels with it (referrer, cosign tag or BuildKit attestation)` };
    }
    case 'signature': {
      if (!rule.sources.some((g) => globMatch(g, repository))) return undefined;
      if (!a.upstreamSignature) {
        return { ...base, passed: false, detail: 'no vendor signature was verified for it at export (its mirror-list entry has no `verify:`, or it was not signed)' };
      }
      const siteRoot = rule.keyless?.trustedRoot ?? ctx.trustedRootPath;
      if (!rule.key && !siteRoot && !ctx.bundleVerified) {
        return { ...base, passed: false, detail: 'the bundle\'s signature did not verify, so the trusted root it carries is nobody\'s: give the rule a trustedRoot, or pass --trusted-root' };
      }
      const override: UpstreamTrustOverride = rule.key
        ? { key: ctx.keys.get(rule.key) }
        : {
          trustedRootPath: siteRoot,
          identity: rule.keyless?.identity, identityRegexp: rule.keyless?.identityRegexp,
          issuer: rule.keyless?.issuer, issuerRegexp: rule.keyless?.issuerRegexp,
        };
      try {
        const s = await reverifyArtifactSignature(a, ctx.metadata, override);
        return { ...base, passed: true, detail: `signed by ${s.signer}${s.issuer ? ` (issuer ${s.issuer})` : ''}, re-verified offline` };
      } catch (err) {
        if (!isAirlockError(err) || (err.code !== 'UPSTREAM_SIGNATURE_INVALID' && err.code !== 'KEY_INVALID')) throw err;
        return { ...base, passed: false, detail: `the signature does not satisfy the rule: ${err.message}` };
      }
    }
  }
}

/** The platforms an image runs on: an index's entries (not BuildKit's attestation entries), or a manifest's config. */
function platformsOf(a: BundleArtifact, metadata: ReadonlyMap<Digest, Buffer>): string[] {
  const m = readManifest(metadata, a.digest as Digest, a.mediaType);
  if (!m) return [...(a.platforms ?? [])];
  if (m.kind === 'index') {
    return [...new Set(m.manifests
      .filter((d) => d.annotations?.[ANNOTATION_DOCKER_REFERENCE_TYPE] !== DOCKER_REFERENCE_TYPE_ATTESTATION && d.platform)
      .map((d) => formatPlatform(d.platform!)))];
  }
  const config = metadata.get(m.config.digest as Digest);
  if (!config) return [];
  try {
    const c = JSON.parse(config.toString('utf8')) as { os?: unknown; architecture?: unknown; variant?: unknown };
    if (typeof c.os !== 'string' || typeof c.architecture !== 'string') return [];
    return [formatPlatform({ os: c.os, architecture: c.architecture, ...(typeof c.variant === 'string' ? { variant: c.variant } : {}) })];
  } catch {
    return [];
  }
}

/** `linux/arm64` allows any arm64 variant; `linux/arm/v7` only v7. */
function platformAllowed(allowed: string, p: string): boolean {
  return p === allowed || (allowed.split('/').length === 2 && p.startsWith(`${allowed}/`));
}

/** A referrer (or BuildKit attestation inside the image index) holding an SBOM / provenance; its description. */
function findAttached(a: BundleArtifact, ctx: JudgeContext, want: 'sbom' | 'provenance'): string | undefined {
  const subjects = new Set([a.digest, a.upstreamDigest].filter((d): d is string => typeof d === 'string'));
  const matchesPredicate = want === 'sbom' ? isSbomPredicate : isProvenancePredicate;
  for (const r of ctx.referrers) {
    if (!r.subject || !subjects.has(r.subject)) continue;
    if (want === 'sbom' && r.artifactType && SBOM_ARTIFACT_TYPES.has(r.artifactType)) return `referrer ${r.digest} (${r.artifactType})`;
    if (want === 'sbom' && r.referrerTag?.endsWith('.sbom')) return `cosign ${r.referrerTag}`;
    const m = readManifest(ctx.metadata, r.digest as Digest, r.mediaType);
    const predicate = m ? predicateTypes(m).find(matchesPredicate) : undefined;
    if (predicate) return `${r.referrerTag ? `cosign ${r.referrerTag}` : `referrer ${r.digest}`} (${predicate})`;
    if (want === 'sbom' && m?.kind === 'manifest' && m.layers.some((l) => SBOM_ARTIFACT_TYPES.has(l.mediaType))) return `referrer ${r.digest}`;
  }
  // BuildKit keeps its attestations in the image index itself, one attestation manifest per platform.
  const root = readManifest(ctx.metadata, a.digest as Digest, a.mediaType);
  if (root?.kind === 'index') {
    for (const d of root.manifests) {
      if (d.annotations?.[ANNOTATION_DOCKER_REFERENCE_TYPE] !== DOCKER_REFERENCE_TYPE_ATTESTATION) continue;
      const m = readManifest(ctx.metadata, d.digest as Digest, d.mediaType);
      const predicate = m ? predicateTypes(m).find(matchesPredicate) : undefined;
      if (predicate) return `BuildKit attestation ${d.digest} (${predicate})`;
    }
  }
  return undefined;
}

/** Predicate types a manifest says it holds, in any of the ways cosign and BuildKit say it. */
function predicateTypes(m: Manifest): string[] {
  const out: string[] = [];
  const take = (ann: Readonly<Record<string, string>> | undefined): void => {
    for (const k of [ANNOTATION_SIGSTORE_PREDICATE_TYPE, ANNOTATION_IN_TOTO_PREDICATE_TYPE, ANNOTATION_COSIGN_PREDICATE_TYPE]) {
      const v = ann?.[k];
      if (v) out.push(v);
    }
  };
  take(m.annotations);
  if (m.kind === 'manifest') for (const l of m.layers) take(l.annotations);
  return out;
}

function readManifest(metadata: ReadonlyMap<Digest, Buffer>, digest: Digest, mediaType: string | undefined): Manifest | undefined {
  const bytes = metadata.get(digest);
  if (!bytes) return undefined;
  try {
    return parseManifest(bytes, mediaType, digest);
  } catch {
    return undefined;
  }
}
