import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError, MultiError, ioError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { readVerified, type ContentSource } from '../content/index.js';
import type { PlanNode, PlannedRoot } from '../copy/index.js';
import {
  ANNOTATION_COSIGN_SIGNATURE, MEDIA_TYPE_SIGSTORE_BUNDLE_V03, digestOf, parseManifest, type Digest,
} from '../oci/index.js';
import type { AirlockManifest, UpstreamEvidence, UpstreamSignatureRecord } from '../bundle/index.js';
import { parsePublicKey, type VerificationKey } from './keys.js';
import type { KeylessPolicy } from './sigstore.js';
import { verifyCosignSimpleSigning, verifySigstoreBundleForDigest } from './upstream.js';

/** A mirror-list entry's `verify:`: whose signature an upstream image must carry (mirror/ parses it). */
export type VerifyPolicy =
  | { readonly kind: 'key'; readonly keyPath: string }
  | {
      readonly kind: 'keyless';
      /** OIDC issuer URL, compared exactly. Exactly one of issuer / issuerRegexp is set. */
      readonly issuer?: string;
      /** The issuer as an unanchored regular expression (cosign --certificate-oidc-issuer-regexp). */
      readonly issuerRegexp?: string;
      /** Exactly one of identity / identityRegexp is set; identityRegexp is unanchored, as cosign's. */
      readonly identity?: string;
      readonly identityRegexp?: string;
      /** Absolute path of a `trusted_root.json`; absent: the production Sigstore root. */
      readonly trustedRoot?: string;
    };

/** What the export-side check reads of the mirror list: each image entry's `verify:` and where it was written. */
export interface UpstreamVerifyEntries {
  readonly images: readonly { readonly verify?: VerifyPolicy | undefined; readonly where: string }[];
}

/** Signature payloads and Sigstore bundles are small; refuse anything that is not. */
const MAX_SIGNATURE_BLOB = 1024 * 1024;

interface Resolved {
  readonly desc: { readonly digest: Digest };
  readonly rootBytes?: Buffer;
  readonly ref: { readonly registry: string; readonly repository: string };
  readonly entryIndex: number;
  readonly where: string;
}

interface TrustMaterial {
  readonly key?: VerificationKey;
  readonly keyless?: KeylessPolicy;
  readonly record: Pick<UpstreamSignatureRecord, 'publicKeyPem' | 'trustedRootJson' | 'identity' | 'identityRegexp' | 'issuer' | 'issuerRegexp'>;
}

async function loadTrust(policy: VerifyPolicy, where: string, defaultRoot: string | undefined): Promise<TrustMaterial> {
  const read = async (path: string): Promise<string> => readFile(path, 'utf8').catch((err: unknown) => {
    throw ioError(err, 'read', path);
  });
  if (policy.kind === 'key') {
    const pem = await read(policy.keyPath);
    return { key: parsePublicKey(pem, policy.keyPath), record: { publicKeyPem: pem } };
  }
  const rootPath = policy.trustedRoot ?? defaultRoot;
  if (!rootPath) {
    throw new AirlockError('MIRROR_INVALID', 'keyless verify: needs trustedRoot (verification is offline)', {
      where, hint: 'add trustedRoot: ./trusted_root.json to the entry, or pass export --trusted-root (the public-good root: `cosign trusted-root` or sigstore/root-signing)',
    });
  }
  const root = await read(rootPath);
  const who = {
    ...(policy.issuer ? { issuer: policy.issuer } : {}), ...(policy.issuerRegexp ? { issuerRegexp: policy.issuerRegexp } : {}),
    ...(policy.identity ? { identity: policy.identity } : {}), ...(policy.identityRegexp ? { identityRegexp: policy.identityRegexp } : {}),
  };
  return { keyless: { trustedRootPath: rootPath, ...who }, record: { trustedRootJson: root, ...who } };
}

/**
 * Export side: every mirror-list entry with `verify:` must carry a valid vendor signature, found
 * among its referrers (cosign `.sig` tag, or a Sigstore bundle referrer). The evidence and the trust
 * material go into airlock.json so the site can check it again offline.
 */
export async function verifyUpstreamSignatures(
  mirror: UpstreamVerifyEntries,
  resolved: readonly Resolved[],
  roots: readonly PlannedRoot[],
  nodes: ReadonlyMap<Digest, PlanNode>,
  repoOf: (registry: string, repository: string) => Pick<ContentSource, 'fetch'>,
  opts: { logger: Logger; signal?: AbortSignal; trustedRoot?: string | undefined },
): Promise<Map<Digest, UpstreamSignatureRecord>> {
  const out = new Map<Digest, UpstreamSignatureRecord>();
  const problems: AirlockError[] = [];
  for (const r of resolved) {
    const entry = mirror.images[r.entryIndex];
    const policy = entry?.verify;
    if (!policy) continue;
    const trust = await loadTrust(policy, entry.where, opts.trustedRoot);
    const repo = repoOf(r.ref.registry, r.ref.repository);
    const repository = `${r.ref.registry}/${r.ref.repository}`;
    const imageRoot = roots.find((x) => x.kind !== 'referrer' && x.repository === repository && (x.desc.digest === r.desc.digest || x.upstreamDigest === r.desc.digest));
    const candidates = roots.filter((x) => x.kind === 'referrer' && x.repository === repository && x.subject === r.desc.digest);
    const evidence: UpstreamEvidence[] = [];
    const signatures: Digest[] = [];
    let signer: string | undefined;
    let method: UpstreamSignatureRecord['method'] | undefined;
    const failures: string[] = [];
    for (const c of candidates) {
      const node = nodes.get(c.desc.digest);
      if (!node?.bytes) continue;
      const m = parseManifest(node.bytes, c.desc.mediaType, `${repository}@${c.desc.digest}`);
      if (m.kind !== 'manifest') continue;
      try {
        if (c.referrerTag?.endsWith('.sig') && trust.key) {
          for (const layer of m.layers) {
            const sig = layer.annotations?.[ANNOTATION_COSIGN_SIGNATURE];
            if (!sig) continue;
            const payload = await readVerified(await repo.fetch(layer, opts.signal ? { signal: opts.signal } : {}), layer, MAX_SIGNATURE_BLOB, { where: `${repository}@${layer.digest}` });
            verifyCosignSimpleSigning({ imageDigest: r.desc.digest, payload, signatureB64: sig, key: trust.key, where: `${r.where} (${c.referrerTag})` });
            evidence.push({ kind: 'cosign', signatureManifest: c.desc.digest, payload: payload.toString('base64'), signature: sig });
            signatures.push(c.desc.digest);
            signer = trust.key.fingerprint;
            method = 'cosign-key';
            break;
          }
        } else if (c.artifactType === MEDIA_TYPE_SIGSTORE_BUNDLE_V03 || m.artifactType === MEDIA_TYPE_SIGSTORE_BUNDLE_V03) {
          const layer = m.layers[0];
          if (!layer) continue;
          const bundle = await readVerified(await repo.fetch(layer, opts.signal ? { signal: opts.signal } : {}), layer, MAX_SIGNATURE_BLOB, { where: `${repository}@${layer.digest}` });
          const s = await verifySigstoreBundleForDigest({
            bundle, imageDigest: r.desc.digest,
            policy: { ...(trust.key ? { key: trust.key } : {}), ...(trust.keyless ? { keyless: trust.keyless } : {}) },
            ...(r.rootBytes ? { manifest: r.rootBytes } : {}), where: `${r.where} (referrer ${c.desc.digest})`,
          });
          evidence.push({ kind: 'sigstore-bundle', signatureManifest: c.desc.digest, bundle: bundle.toString('base64') });
          signatures.push(c.desc.digest);
          signer = s.signer;
          method = trust.key ? 'sigstore-bundle-key' : 'sigstore-bundle-keyless';
        }
      } catch (err) {
        if (!isAirlockError(err) || err.code !== 'UPSTREAM_SIGNATURE_INVALID') throw err;
        failures.push(err.message);
      }
    }
    if (!signer || !method) {
      problems.push(new AirlockError('UPSTREAM_SIGNATURE_INVALID',
        candidates.length === 0
          ? `${r.where}: no vendor signature found (no cosign .sig tag or Sigstore bundle referrer)`
          : `${r.where}: no vendor signature verifies (${failures.join('; ') || 'no usable signature'})`,
        { where: entry.where, hint: 'the image is not signed by the key or identity in verify:; do not mirror it, or fix verify:' }));
      continue;
    }
    const record: UpstreamSignatureRecord = { verified: true, method, signer, signatures, ...trust.record, evidence };
    out.set(r.desc.digest, record);
    if (imageRoot) out.set(imageRoot.desc.digest, record);
    opts.logger.info(`${r.where}: vendor signature verified (${signer})`);
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new MultiError('UPSTREAM_SIGNATURE_INVALID', `${problems.length} images fail vendor signature verification`, problems);
  return out;
}

/** What the site itself demands of a vendor signature, over what the bundle carries. */
export interface UpstreamTrustOverride {
  /**
   * The importer's own trusted_root.json (`--trusted-root`, or a policy rule's): it wins over the
   * root carried in airlock.json, so a site that pins its own Sigstore root is never asked to take
   * the exporter's word for which root to trust.
   */
  readonly trustedRootPath?: string | undefined;
  /** A policy rule's key: the evidence must verify with this key, not the carried one. */
  readonly key?: VerificationKey | undefined;
  /** A policy rule's identity and issuer, instead of those carried. */
  readonly identity?: string | undefined;
  readonly identityRegexp?: string | undefined;
  readonly issuer?: string | undefined;
  readonly issuerRegexp?: string | undefined;
}

/** Who signed, as re-verified offline. */
export interface ReverifiedSigner {
  readonly method: 'cosign-key' | 'sigstore-bundle-key' | 'sigstore-bundle-keyless';
  readonly signer: string;
  readonly issuer?: string;
}

/**
 * Re-check one artifact's recorded vendor signature offline, from the evidence and trust material
 * inside the signed airlock.json (or the site's own, `override`), and check that the evidence is a
 * layer of a signature manifest the bundle carries. Throws UPSTREAM_SIGNATURE_INVALID.
 */
export async function reverifyArtifactSignature(
  a: AirlockManifest['artifacts'][number],
  metadata: ReadonlyMap<Digest, Buffer>,
  override: UpstreamTrustOverride = {},
): Promise<ReverifiedSigner> {
  const rec = a.upstreamSignature;
  if (!rec) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: the bundle carries no vendor signature for it`);
  const imageDigest = (a.upstreamDigest ?? a.digest) as Digest;
  if (!rec.evidence || rec.evidence.length === 0) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: the bundle records a vendor signature but carries no evidence`);
  const overridesIdentity = override.identity !== undefined || override.identityRegexp !== undefined;
  // A rule that names a key accepts that key only; one that names an identity accepts a certificate
  // for it only (never the carried key, which would satisfy it without the identity).
  const key = override.key ?? (!overridesIdentity && rec.publicKeyPem ? parsePublicKey(rec.publicKeyPem, `airlock.json ${a.source}`) : undefined);
  const overridesIssuer = override.issuer !== undefined || override.issuerRegexp !== undefined;
  const who = {
    ...(overridesIdentity
      ? { ...(override.identity ? { identity: override.identity } : {}), ...(override.identityRegexp ? { identityRegexp: override.identityRegexp } : {}) }
      : { ...(rec.identity ? { identity: rec.identity } : {}), ...(rec.identityRegexp ? { identityRegexp: rec.identityRegexp } : {}) }),
    ...(overridesIssuer
      ? { ...(override.issuer ? { issuer: override.issuer } : {}), ...(override.issuerRegexp ? { issuerRegexp: override.issuerRegexp } : {}) }
      : { ...(rec.issuer ? { issuer: rec.issuer } : {}), ...(rec.issuerRegexp ? { issuerRegexp: rec.issuerRegexp } : {}) }),
  };
  let result: ReverifiedSigner | undefined;
  for (const ev of rec.evidence) {
    const sigManifest = metadata.get(ev.signatureManifest);
    if (!sigManifest) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: signature manifest ${ev.signatureManifest} is not in the bundle`);
    const m = parseManifest(sigManifest, undefined, `signature manifest ${ev.signatureManifest}`);
    if (m.kind !== 'manifest') throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: signature manifest ${ev.signatureManifest} is an index`);
    const bytes = Buffer.from(ev.kind === 'cosign' ? ev.payload : ev.bundle, 'base64');
    if (!m.layers.some((l) => l.digest === digestOf(bytes))) {
      throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: the recorded evidence is not a layer of signature manifest ${ev.signatureManifest}`);
    }
    if (ev.kind === 'cosign') {
      if (!key) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: cosign evidence without a public key`);
      verifyCosignSimpleSigning({ imageDigest, payload: bytes, signatureB64: ev.signature, key, where: a.source });
      result = { method: 'cosign-key', signer: key.fingerprint };
      continue;
    }
    // The signing module reads trusted roots from files: the carried copy goes through a private
    // temp file; the site's own root, when it gave one, is used instead.
    const dir = !override.trustedRootPath && rec.trustedRootJson ? await mkdtemp(join(tmpdir(), 'airlock-root-')) : undefined;
    try {
      let rootPath = override.trustedRootPath;
      if (dir) {
        rootPath = join(dir, 'trusted_root.json');
        await writeFile(rootPath, rec.trustedRootJson!, { mode: 0o600 });
      }
      const keyless: KeylessPolicy | undefined = rootPath && !override.key ? { trustedRootPath: rootPath, ...who } : undefined;
      const s = await verifySigstoreBundleForDigest({
        bundle: bytes, imageDigest, policy: { ...(key ? { key } : {}), ...(keyless ? { keyless } : {}) },
        ...(metadata.get(imageDigest) ? { manifest: metadata.get(imageDigest)! } : {}), where: a.source,
      });
      result = { method: s.method === 'key' ? 'sigstore-bundle-key' : 'sigstore-bundle-keyless', signer: s.signer, ...(s.issuer ? { issuer: s.issuer } : {}) };
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
  return result!;
}

/**
 * Import side (`--require-upstream-signatures`) and `bundle verify --upstream`: check every recorded
 * vendor signature again, offline (reverifyArtifactSignature), listing every failure.
 */
export async function reverifyUpstream(
  manifest: AirlockManifest,
  metadata: ReadonlyMap<Digest, Buffer>,
  opts: { logger: Logger; trustedRootPath?: string | undefined },
): Promise<number> {
  const problems: AirlockError[] = [];
  let checked = 0;
  for (const a of manifest.artifacts) {
    if (!a.upstreamSignature) continue;
    try {
      await reverifyArtifactSignature(a, metadata, { trustedRootPath: opts.trustedRootPath });
      checked++;
    } catch (err) {
      if (!isAirlockError(err)) throw err;
      problems.push(err.code === 'UPSTREAM_SIGNATURE_INVALID' ? err : new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${a.source}: ${err.message}`, { cause: err }));
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new MultiError('UPSTREAM_SIGNATURE_INVALID', `${problems.length} vendor signatures fail offline re-verification`, problems);
  opts.logger.debug(`${checked} vendor signature(s) re-verified offline${opts.trustedRootPath ? ` (trusted root: ${opts.trustedRootPath}, not the carried one)` : ''}`);
  return checked;
}
