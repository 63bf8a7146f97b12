import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { defaultStateDir } from '../cache/index.js';
import { verifyStream } from '../content/index.js';
import { describePlan, executeCopy, FileJournal, findStaleClaim, journalKey, planCopy, type BlobSupply, type CopyEvent, type PendingWrites, type PlanDescription, type RootTarget, type SequentialBlob } from '../copy/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { parseTarget, type RepositoryLayout } from '../reference/index.js';
import { createRegistryClient, RegistryError, type RegistryClient, type RegistryHostConfig, type RegistryRepository } from '../registry/index.js';
import { targetAccess } from '../deploy/index.js';
import { bundleLabel, openBundle, type AirlockManifest, type BundleBlob, type BundleReader } from '../bundle/index.js';
import { loadPrivateKey, readPassphrase, verifyBundleManifest, type SignaturePolicy, type SignatureStatus } from '../signing/index.js';
import { AuditLog, SiteState, writeDeployOutputs, type MappedArtifact, type Receipt, type TagMove } from '../deploy/index.js';
import { currentDigest, keepPreviousTag } from '../deploy/index.js';
import { errorToRecord } from '../deploy/index.js';
import { forEachConcurrent } from '../util/index.js';
import { checkCarriedTool, type ToolCheck } from '../bundle/index.js';
import { ImportPreflight } from './import-preflight.js';
import { buildBundlePlan, mapArtifacts, type BundlePlan } from './bundle-plan.js';
import { reverifyUpstream } from '../signing/index.js';
import { pieceFile as spoolFile, shareCutBlobs, type ShareCutBlobsReport } from './pieces.js';
import type { PolicyDecision } from '../deploy/index.js';
import { recheckReleaseFiles, type ReleaseFilesCheck } from '../files/index.js';
import { readDeployInputs, writePullSecret, writeRewrittenFiles, type RewrittenFile } from '../deploy/index.js';
import { writeReleaseRecord } from './release-record.js';
import { resolveCredentials } from '../registry/index.js';
import { removeReceiptSignature, writeReceiptSignature } from '../signing/index.js';
import { planDeliveries, deliverBlobs, writeDeliveryChecksums, FILES_REPOSITORY, type Delivery, type DeliveryTracker } from '../files/index.js';

export interface ImportOptions {
  /** Bundle file, directory, or one or more volumes. */
  readonly bundles: readonly string[];
  /** `HOST[:PORT][/PREFIX]`. */
  readonly to: string;
  /** Default 'flat'. */
  readonly layout?: RepositoryLayout;
  readonly signature: SignaturePolicy;
  readonly dest: RegistryHostConfig;
  readonly dryRun?: boolean;
  /** Where the image map, mirror configs, files and receipt go. Default `./airlock-import`. */
  readonly outDir?: string;
  /** Import journal. Default under $XDG_STATE_HOME. */
  readonly stateDir?: string;
  /** Parallel transfers. Default 8. */
  readonly concurrency?: number;
  readonly requireUpstreamSignatures?: boolean;
  /**
   * `--policy FILE` (mirror/policy.ts): every image and chart must meet its rules, judged offline
   * before anything is pushed (before the preflight); a violation stops the import with
   * POLICY_VIOLATION (exit 3). A dry run reports the decisions instead of stopping.
   */
  readonly policyPath?: string;
  /** `--sign-key`: sign receipt.json (receipt.sigstore.json beside it) so the DMZ can check it with --receipt-key. */
  readonly signKey?: string;
  /** Also push carried files to the target as OCI artifacts (`PREFIX/airlock/files:NAME`). Default false. */
  readonly pushFiles?: boolean;
  /**
   * `--create-projects`: when the target is Harbor and a project the import needs does not exist,
   * create it (private) through Harbor's API with the destination credentials. Default false: stop
   * with PROJECT_MISSING before anything is pushed.
   */
  readonly createProjects?: boolean;
  /**
   * `--keep-previous-tags`: before a tag moves off a digest, tag that digest `TAG-prev-<n>` so it
   * stays reachable (and `airlock site rollback` can go back to it). Default false: the move is
   * recorded (receipt, audit log), the previous digest is left untagged.
   */
  readonly keepPreviousTags?: boolean;
  /** `--values FILE` (repeatable): vendor Helm values rewritten to the mirror as out-dir/NAME.mirrored.yaml. */
  readonly values?: readonly string[];
  /** `--compose FILE` (repeatable): Compose files (and the `.env` beside each) rewritten likewise. */
  readonly compose?: readonly string[];
  /**
   * Write out-dir/pull-secret.yaml (mode 0600) for the target. Set only when the password came
   * from stdin or an authfile, never from argv (the CLI decides). Credentials: `dest.credentials`,
   * else the authfile's entry for the target.
   */
  readonly pullSecret?: { readonly name: string; readonly namespace?: string };
  readonly logger?: Logger;
  readonly onEvent?: (e: CopyEvent) => void;
  readonly signal?: AbortSignal;
  readonly onRequest?: (info: { method: string; url: string; status?: number; bytesSent?: number }) => void;
}

export interface ImportPlanEntry {
  readonly kind: string;
  readonly source: string;
  readonly target: string;
  readonly digest: string;
}

export interface TargetSupport {
  readonly auth: string;
  readonly referrersApi: boolean;
  /** What the import will do differently, or what to check with `airlock registry probe`. */
  readonly notes: readonly string[];
}

export interface ImportResult {
  readonly version: 1;
  readonly bundleId: Digest;
  readonly signature: SignatureStatus;
  readonly target: string;
  readonly dryRun: boolean;
  readonly artifacts: readonly (ImportPlanEntry & { readonly status: 'pushed' | 'present' | 'waiting' })[];
  readonly blobsPushed: number;
  readonly bytesPushed: number;
  readonly blobsMounted: number;
  readonly blobsAlreadyPresent: number;
  /** Dry run: what would be pushed. */
  readonly blobsToPush?: number;
  /** Dry run: what the target was found to support, read-only, and what that means for this bundle. */
  readonly targetSupport?: TargetSupport;
  /** Dry run: the copy plan itself (describePlan): each root with its target repository, every blob and where it comes from. */
  readonly plan?: PlanDescription;
  readonly bytesToPush?: number;
  readonly manifestsPushed: number;
  readonly tagsSet: number;
  /** Split bundles: the volumes still to import before the waiting artifacts can be tagged. */
  readonly volumesRemaining: readonly number[];
  readonly outDir?: string;
  /** Files written under out-dir (`files/NAME`, `files/charts/NAME.tgz`), each verified against its digest. */
  readonly files?: readonly string[];
  /**
   * Split bundles imported by several processes at once: pieces of cut blobs this run parked in the
   * target, read back from it (parked by another run), and whole blobs it assembled from them.
   */
  readonly pieces?: { readonly parked: number; readonly fetched: number; readonly assembled: number };
  /** Release files whose vendor signature or checksums file was checked again on the delivered bytes. */
  readonly releaseFiles?: ReleaseFilesCheck;
  /** `--values` / `--compose` files rewritten to the mirror. */
  readonly rewritten?: readonly RewrittenFile[];
  /** Other files written to out-dir: pull-secret.yaml, release-record.json. */
  readonly written?: readonly string[];
  /** Harbor projects this import created (`--create-projects`). */
  readonly projectsCreated?: readonly string[];
  readonly durationMs: number;
  /** `export --include-tool`: the executable beside the bundle, checked against airlock.json before any push. */
  readonly tool?: ToolCheck;
  /** `--policy`: the decision for every image and chart (also in receipt.json). */
  readonly policy?: PolicyDecision;
  /** Tags moved off another digest by this import (the receipt's tagMoves). */
  readonly tagMoves?: readonly TagMove[];
}

/** `airlock bundle import`: verify offline, then stream the bundle once into the target registry. */
export async function importBundle(opts: ImportOptions): Promise<ImportResult> {
  const started = new Date();
  const logger = opts.logger ?? NOOP_LOGGER;
  const emit = opts.onEvent ?? (() => {});
  const signal = opts.signal;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const layout = opts.layout ?? 'flat';
  const target = parseTarget(opts.to);
  // The policy is bad input or not before the target hears from us.
  // mirror/ (its YAML, semver and JSONPath libraries) is loaded only for a policy: an import
  // without one does not pay for compiling it (docs/BENCHMARKS.md, no-op re-import).
  const mirror = opts.policyPath !== undefined ? await import('../mirror/index.js') : undefined;
  const policy = mirror && opts.policyPath !== undefined ? await mirror.readPolicyFile(opts.policyPath) : undefined;
  // Files to rewrite are read (and parsed) before anything else: a wrong path is exit 2, not a failure after the push.
  const deployInputs = await readDeployInputs(opts.values ?? [], opts.compose ?? []);

  // The target's connection is set up while the bundle is opened and checked: a GET of its API
  // root, which learns the scheme (skip-verify: TLS or plain HTTP) and the auth it asks for.
  // It says nothing about the bundle; its failure is left to the first real request to report.
  const client: RegistryClient = createRegistryClient(target.host, opts.dest, {
    logger, connections: concurrency * 2, ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  });
  const warm = new AbortController();
  const warmUp = client.ping({ signal: signal ? AbortSignal.any([signal, warm.signal]) : warm.signal }).catch(() => {});
  const stopWarmUp = async (): Promise<void> => {
    warm.abort();
    await warmUp;
  };
  // The site's record of its imports (`airlock site status`): failures are recorded too.
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const site = new SiteState(stateDir);
  const recordFailure = async (err: unknown, bundleId?: Digest): Promise<void> => {
    if (opts.dryRun) return;
    await site.recordImport({
      version: 1, kind: 'airlock-import', result: 'error', started: started.toISOString(), finished: new Date().toISOString(),
      target: `${target.host}${target.prefix ? `/${target.prefix}` : ''}`, ...(bundleId ? { bundleId } : {}), error: errorToRecord(err),
    }).catch(() => {});
  };
  let reader: BundleReader;
  try {
    reader = await openBundle(opts.bundles, signal ? { signal } : {});
  } catch (err) {
    await recordFailure(err);
    await stopWarmUp();
    await client.close().catch(() => {});
    throw err;
  }
  let journal: FileJournal | undefined;
  /** Readers opened to read the bundle's blobs a second time (a re-check after a stale journal). */
  const rereads: BundleReader[] = [];
  let bundleIdForRecord: Digest | undefined;
  /** Cancels the upload sessions the preflight kept and no upload took (import-preflight.ts). */
  let releaseKept: (() => Promise<void>) | undefined;
  try {
    // 1. Trust: the signature over airlock.json, before anything else is believed.
    const status = await verifyBundleManifest({ airlockJson: reader.airlockRaw, signature: reader.signature, policy: opts.signature, bundlePath: bundleLabel(opts.bundles) });
    if (!status.verified) logger.warn(`importing an unverified bundle (${status.reason ?? 'unsigned'}) because --insecure-skip-signature was given`);
    const manifest = reader.manifest;
    const bundleId = reader.id;
    bundleIdForRecord = bundleId;
    // The receipt key is read now, so a wrong path or passphrase stops the import before any push.
    const receiptKey = opts.signKey && !opts.dryRun
      ? await loadPrivateKey(opts.signKey, () => readPassphrase(`passphrase for ${opts.signKey}: `))
      : undefined;
    // An executable beside the bundle that is not the one its signer carried stops the import too.
    const tool = await checkCarriedTool(manifest, opts.bundles[0]!, signal ? { signal } : {});

    // 2. The plan, from the front of the bundle only.
    const plan = buildBundlePlan(manifest, reader.metadata, bundleId);
    if (opts.requireUpstreamSignatures) {
      const checked = await reverifyUpstream(manifest, reader.metadata, { logger, trustedRootPath: opts.signature.keyless?.trustedRootPath });
      logger.info(`${checked} vendor signature(s) re-verified offline, before anything is pushed`);
      if (checked > 0 && !status.verified) {
        logger.warn('the vendor signatures were re-checked with keys and roots from an unverified airlock.json: that proves nothing about who signed; use --policy signature rules with your own keys or --trusted-root');
      }
    }
    // The policy gate: offline, from the signed front of the bundle, before the preflight and the first push.
    const decision = mirror && policy ? await mirror.evaluatePolicy(policy, manifest, reader.metadata, { trustedRootPath: opts.signature.keyless?.trustedRootPath, bundleVerified: status.verified }) : undefined;
    if (decision) {
      const refused = decision.artifacts.filter((a) => !a.allowed).length;
      if (opts.dryRun) {
        if (refused > 0) logger.warn(`policy ${decision.policy}: ${refused} of ${decision.artifacts.length} artifact(s) refused; a real import would stop here and push nothing`);
      } else {
        mirror!.assertPolicyAllows(decision);
      }
      if (refused === 0) logger.info(`policy ${decision.policy} (${decision.digest}): all ${decision.artifacts.length} artifact(s) allowed`);
    }

    // 3. Where each artifact lands; two sources on one target repository is a usage error.
    const mapped = mapArtifacts(plan.roots, target, layout);
    const repos = new Map<string, RegistryRepository>();
    const repoFor = (path: string): RegistryRepository => {
      let r = repos.get(path);
      if (!r) repos.set(path, (r = client.repository(path)));
      return r;
    };
    const filesRepository = [target.prefix, FILES_REPOSITORY].filter((p) => p).join('/');
    const copyPlan = planCopy({
      roots: plan.roots, nodes: plan.nodes,
      targetOf: (root) => (root.kind !== 'file' ? mapped.get(root.repository)! : opts.pushFiles ? filesRepository : undefined),
    });
    const targets: RootTarget[] = copyPlan.targets.map((t) => ({ ...t, sink: repoFor(t.repository) }));
    const deliveries = planDeliveries(manifest.artifacts, reader.metadata);
    const tracker: DeliveryTracker = { delivered: new Set() };

    const targetKey = `${target.host}/${target.prefix}|${layout}`;
    journal = opts.dryRun ? undefined : await FileJournal.open(stateDir, bundleId, targetKey);
    const outDir = resolvePath(opts.outDir ?? 'airlock-import');
    const audit = opts.dryRun ? undefined : new AuditLog([join(outDir, 'audit.jsonl'), site.auditPath], { registry: target.host, bundleId });
    await audit?.write({ action: 'start', result: 'ok', detail: `bundle ${bundleId} → ${opts.to}` });

    // Before the first write: the target takes these repositories and media types (import-preflight.ts).
    const preflight = new ImportPreflight({
      client, repoFor, target, layout, concurrency, logger, ...(signal ? { signal } : {}),
      sources: [...new Map(plan.roots.filter((r) => r.kind !== 'file').map((r) => [r.repository, { registry: r.registry, repository: r.repositoryPath }])).values()],
      repositories: [...new Set(targets.map((t) => t.repository))],
      createProjects: Boolean(opts.createProjects), dryRun: Boolean(opts.dryRun), describeRoot: (r) => plan.sourceOf(r),
    });
    releaseKept = () => preflight.releaseKept();

    // The journal is a hint: a target wiped, restored from an older backup or reinstalled at the
    // same host:port since the last run does not hold what it records. A sample of its claims is
    // checked first; any miss and none of it is trusted (copy/journal-check.ts).
    if (journal && journal.size > 0) {
      const j = journal;
      const stale = await preflight.guard(() => findStaleClaim({ journal: j, descriptorOf: descriptorLookup(plan, manifest), repoFor, concurrency, ...(signal ? { signal } : {}) }));
      if (stale) {
        logger.warn(`the target lacks ${stale}, which the import journal says an earlier run pushed: the journal is set aside and the target is checked again (${journal.path})`);
        await journal.reset();
      }
    }

    // 4 and 5, once, and once more from a fresh read of the bundle when the target refuses a write
    // for want of something the journal (or an earlier answer) said it held.
    // Tags last; a tag that moves off another digest is recorded (and, with --keep-previous-tags,
    // that digest is tagged TAG-prev-<n> first), so `airlock site rollback` can go back.
    const tagMoves = new Map<string, TagMove>();
    const beforeTag = async (t: RootTarget, tag: string): Promise<void> => {
      const repo = repoFor(t.repository);
      const call = signal ? { signal } : {};
      const before = await currentDigest(repo, tag, call);
      if (!before || before.digest === t.root.desc.digest) return;
      const historyTag = opts.keepPreviousTags ? await keepPreviousTag(repo, tag, before, call) : undefined;
      if (historyTag) await audit?.write({ action: 'history-tag', repository: t.repository, tag: historyTag, digest: before.digest, result: 'ok', detail: `kept before ${tag} moved` });
      tagMoves.set(`${t.repository}:${tag}`, { repository: t.repository, tag, previous: before.digest, digest: t.root.desc.digest, ...(historyTag ? { historyTag } : {}) });
    };
    let shared: ShareCutBlobsReport | undefined;
    const copyFrom = async (rd: BundleReader): Promise<{ base: Awaited<ReturnType<typeof ensureBaseBlobs>>; report: Awaited<ReturnType<typeof executeCopy>> }> => {
      // 4. A delta's left-out blobs must already be in the target (or mountable from another of its
      // repositories) before anything is pushed: otherwise name the bases to import first.
      const base = await preflight.guard(() => ensureBaseBlobs(manifest, plan, targets, {
        client, repoFor, journal, concurrency, dryRun: Boolean(opts.dryRun), logger, ...(signal ? { signal } : {}),
        beforeMount: (repositories) => preflight.checkRepositories(repositories),
      }));

      // 5. Stream the bundle once: blobs as their entries pass, manifests children-first, tags last.
      const entries = assemblePieces(rd, manifest, spoolDir, logger, signal);
      // Files (and classic charts' .tgz) are written under out-dir/files/ as their entries pass.
      const sequential: BlobSupply = { kind: 'sequential', blobs: opts.dryRun || deliveries.length === 0 ? entries : deliverBlobs(entries, deliveries, outDir, tracker) };
      // A single .tar or a .tar.zst with its layers in raw blocks (what airlock writes) is read in
      // place instead: layers in any order, `concurrency` at a time, each retried on its own.
      const supply = async (): Promise<BlobSupply> => {
        const source = opts.dryRun ? undefined : await rd.randomAccess();
        if (!source) {
          logger.debug('reading the bundle front to back');
          return sequential;
        }
        logger.debug(`reading the layers in place, ${concurrency} at a time`);
        if (deliveries.length > 0) {
          // Each delivered blob once, described as airlock.json lists it.
          const wanted = new Set(deliveries.map((d) => d.digest));
          const descs = manifest.blobs.filter((b) => b.location === 'bundle' && wanted.has(b.digest)).map((b): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size }));
          const bodies = (async function* () {
            for (const desc of descs) yield { desc, body: await source.fetch(desc, signal ? { signal } : {}) };
          })();
          for await (const e of deliverBlobs(bodies, deliveries, outDir, tracker)) e.body.destroy();
        }
        return { kind: 'random', fetch: (desc, s) => source.fetch(desc, s ? { signal: s } : {}) };
      };
      const copyOptions = {
        concurrency,
        ...(opts.dryRun ? {} : { beforeTag }),
        ...(signal ? { signal } : {}),
        ...(journal ? { journal } : {}),
        memory: reader.metadata,
        dryRun: Boolean(opts.dryRun),
        describeBlob: (d: Digest) => plan.describe(d),
      };
      const onCopyEvent = (e: CopyEvent): void => {
        emit(e);
        if (!audit) return;
        if (e.type === 'blob-done') void audit.write({ action: e.how === 'mounted' ? 'mount' : e.how === 'copied' ? 'push' : 'skip', ...(e.repository ? { repository: e.repository } : {}), digest: e.digest, result: e.how === 'exists' ? 'exists' : 'ok' });
        else if (e.type === 'manifest-done') void audit.write({ action: 'push-manifest', ...(e.repository ? { repository: e.repository } : {}), digest: e.digest, result: 'ok' });
        else if (e.type === 'tag-done') {
          const move = tagMoves.get(`${e.repository}:${e.tag}`);
          void audit.write({ action: 'tag', repository: e.repository, tag: e.tag, digest: e.digest, ...(move ? { previous: move.previous, ...(move.historyTag ? { historyTag: move.historyTag } : {}) } : {}), result: 'ok' });
        }
      };
      const report = await preflight.guard(async () => {
        const first = await executeCopy(copyPlan, supply, targets, {
          ...copyOptions,
          ...(opts.dryRun ? {} : { beforeWrite: (pending: PendingWrites) => preflight.beforeWrite(pending) }),
          // Once the target holds everything, the rest of the bundle need not be read (a no-op re-import
          // reads only the front); files to deliver are taken as their entries pass, so not then.
          stopWhenComplete: deliveries.length === 0,
          // What waits is told by the second look below, not by this one.
          onEvent: (e) => {
            if (e.type !== 'root-waiting') onCopyEvent(e);
          },
        });
        if (opts.dryRun || first.waiting.length === 0) return first;
        // Volumes imported at once by several processes (docs/scale-out.md): what this run lacks
        // may have arrived from the others meanwhile. Pieces of cut blobs are shared through the
        // target (pieces.ts), then the target is asked once more, after all of this run's writes:
        // the process whose writes end last sees everyone's, so it completes and tags what no
        // other could, and nothing is ever tagged before its whole graph is there.
        const cut = new Set(manifest.blobs.filter((b) => b.pieces).map((b) => b.digest));
        const wanted = new Set(first.waiting.flatMap((w) => w.missing).filter((d) => cut.has(d)));
        shared = wanted.size > 0
          ? await shareCutBlobs({ manifest, plan, targets, wanted, repoFor, spoolDir, concurrency, logger, ...(journal ? { journal } : {}), ...(signal ? { signal } : {}) })
          : undefined;
        if (shared) logger.debug(`cut blobs: ${shared.piecesParked} piece(s) parked in the target, ${shared.piecesFetched} fetched from it, ${shared.blobsAssembled} blob(s) assembled`);
        const second = await executeCopy(copyPlan, { kind: 'sequential', blobs: noBlobs() }, targets, { ...copyOptions, stopWhenComplete: true, onEvent: onCopyEvent });
        return {
          ...second,
          blobsPushed: first.blobsPushed + second.blobsPushed + (shared?.blobsAssembled ?? 0),
          bytesPushed: first.bytesPushed + second.bytesPushed + (shared?.bytesPushed ?? 0),
          blobsMounted: first.blobsMounted + second.blobsMounted,
          blobsExisting: first.blobsExisting,
          manifestsPushed: first.manifestsPushed + second.manifestsPushed,
          tagsSet: first.tagsSet + second.tagsSet,
          present: first.present,
        };
      });
      return { base, report };
    };

    const spoolDir = join(stateDir, 'spool', bundleId.slice(7, 39));
    // Referrers listed by the tag schema need to know whether the target has the referrers API:
    // asked now (a read of an empty subject), alongside the copy, instead of after it.
    const listed = targets.find((t) => listedByTagSchema(t.root));
    const referrersApi = listed && !opts.dryRun ? client.supportsReferrersApi(listed.repository, signal ? { signal } : {}).catch(() => false) : undefined;
    // And, once that is known, whether each such referrer is listed already (a read; a no-op finds
    // them all listed): asked alongside the copy too, so that step 6 has nothing left to ask.
    // The tag-schema index only grows, so what is listed now is listed after the copy.
    const alreadyListed = new Map<string, Promise<boolean>>();
    for (const t of referrersApi ? targets : []) {
      const bytes = listedByTagSchema(t.root) ? plan.nodes.get(t.root.desc.digest)?.bytes : undefined;
      if (!bytes) continue;
      alreadyListed.set(`${t.repository}@${t.root.desc.digest}`, referrersApi!.then(() => repoFor(t.repository).referrerListed(t.root.desc, bytes, signal ? { signal } : {})).catch(() => false));
    }
    const { base, report } = await copyFrom(reader).catch(async (err: unknown) => {
      if (opts.dryRun || !journal || !isStaleClaimError(err)) throw err;
      // The registry has the last word: forget every claim, read the bundle again, ask the target
      // about everything and push what it lacks.
      logger.warn(`the target refused a write for want of content an earlier run had pushed (${(err as Error).message}): the import journal is set aside and the target is checked again`);
      await audit?.write({ action: 'recheck', result: 'ok', detail: (err as Error).message });
      await journal.reset();
      const again = await openBundle(opts.bundles, signal ? { signal } : {});
      rereads.push(again);
      return copyFrom(again);
    }).catch(async (err: unknown) => {
      await audit?.write({ action: 'fail', result: 'error', detail: (err as Error).message });
      throw err;
    });
    // Pieces wait in the spool for the volumes still to come; drop them once nothing waits.
    if (report.waiting.length === 0) await rm(spoolDir, { recursive: true, force: true }).catch(() => {});

    // 6. Referrers for registries without the referrers API: the tag-schema fallback index.
    if (!opts.dryRun) await updateReferrerFallbacks(report.completed, repoFor, plan, logger, signal, alreadyListed);

    const waitingRoots = new Set(report.waiting.map((w) => w.target.root));
    const present = new Set(report.present);
    const artifacts = targets.map((t) => ({
      kind: t.root.kind,
      source: plan.sourceOf(t.root),
      target: `${target.host}/${t.repository}${t.root.tag !== undefined ? `:${t.root.tag}` : ''}@${t.root.desc.digest}`,
      digest: t.root.desc.digest,
      status: waitingRoots.has(t.root) ? 'waiting' as const : present.has(t) ? 'present' as const : 'pushed' as const,
    }));

    // Files: delivered in this run, or by an earlier run of another volume (the file is in out-dir
    // with its digest); what is neither waits for its volume like an image does.
    const undelivered: Delivery[] = [];
    for (const d of deliveries) {
      if (!tracker.delivered.has(d.path) && !(await isDelivered(outDir, d))) undelivered.push(d);
    }
    const volumesRemaining = remainingVolumes(manifest, [...report.waiting.flatMap((w) => w.missing), ...undelivered.map((d) => d.digest)]);
    if (report.waiting.length > 0 && !opts.dryRun && volumesRemaining.length === 0) {
      const w = report.waiting[0]!;
      throw new AirlockError('BUNDLE_INCOMPLETE', `the bundle lacks ${w.missing.length} blob(s) of ${plan.sourceOf(w.target.root)}; ${report.waiting.length} artifact(s) were not tagged`, {
        where: `${w.missing[0] ?? ''}`,
        hint: 'the bundle is truncated or incomplete: copy it again and run `airlock bundle verify`',
      });
    }
    if (volumesRemaining.length > 0 && !opts.dryRun) {
      logger.warn(`${report.waiting.length} artifact(s) wait for volume(s) ${volumesRemaining.join(', ')} of this bundle; import those too (an import of them running elsewhere right now tags these when it finishes)`);
    }

    if (!opts.dryRun && undelivered.length > 0 && volumesRemaining.length === 0) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `the bundle lacks ${undelivered[0]!.path} (${undelivered[0]!.digest}) of ${undelivered[0]!.source}`, {
        where: undelivered[0]!.digest, hint: 'the bundle is truncated or incomplete: copy it again and run `airlock bundle verify`',
      });
    }
    let releaseFiles: ReleaseFilesCheck | undefined;
    if (!opts.dryRun && deliveries.length > 0 && undelivered.length === 0) {
      await writeDeliveryChecksums(outDir, deliveries);
      // Vendor signatures and the checksums file, checked again offline on the delivered bytes.
      releaseFiles = await recheckReleaseFiles(outDir, manifest.artifacts, deliveries, logger, opts.signature.keyless?.trustedRootPath);
      if (releaseFiles.signed.length + releaseFiles.checksums.length > 0) {
        logger.info(`release files checked again: ${releaseFiles.signed.length} signature(s), ${releaseFiles.checksums.length} checksums file(s)`);
      }
      if (releaseFiles.signed.length > 0 && !status.verified) {
        logger.warn('the release files\' vendor signatures were checked with keys and roots from an unverified airlock.json: that proves nothing about who signed them');
      }
    }

    let rewritten: RewrittenFile[] | undefined;
    const written: string[] = [];
    if (!opts.dryRun) {
      const mappedArtifacts: MappedArtifact[] = targets.map((t, i) => {
        const chartImages = t.root.kind === 'chart'
          ? manifest.artifacts.find((a) => a.kind === 'chart' && a.digest === t.root.desc.digest && a.repository === t.root.repository)?.chartImages
          : undefined;
        return {
          kind: t.root.kind, source: artifacts[i]!.source, sourceRegistry: t.root.registry, sourceRepository: t.root.repositoryPath,
          ...(t.root.tag !== undefined ? { tag: t.root.tag } : {}), digest: t.root.desc.digest, targetRepository: t.repository, status: artifacts[i]!.status,
          ...(chartImages ? { chartImages } : {}),
        };
      });
      const receipt: Receipt = {
        version: 1, kind: 'airlock-receipt', bundleId, bundleCreated: manifest.created, bases: manifest.bases.map((b) => b.id),
        ...(status.signer ? { signer: status.signer } : {}),
        target: `${target.host}${target.prefix ? `/${target.prefix}` : ''}`, layout,
        started: started.toISOString(), finished: new Date().toISOString(), complete: report.waiting.length === 0,
        artifacts: mappedArtifacts.map((a) => ({
          kind: a.kind, source: a.source, target: `${target.host}/${a.targetRepository}`, ...(a.tag !== undefined ? { tag: a.tag } : {}), digest: a.digest as Digest, status: a.status,
        })),
        digests: plan.digestsHeldBy(report.completed.map((t) => t.root)),
        ...(decision ? { policy: decision } : {}),
        ...(tagMoves.size > 0 ? { tagMoves: [...tagMoves.values()] } : {}),
      };
      await mkdir(outDir, { recursive: true });
      await writeDeployOutputs({
        outDir, target, layout, artifacts: mappedArtifacts, receipt,
        access: await targetAccess(client, opts.dest),
      });
      // Deploy-ready files (site-outputs.ts): vendor values and Compose files pointed at the mirror,
      // the pull secret, and the release record.
      rewritten = await writeRewrittenFiles(outDir, target.host, deployInputs, mappedArtifacts, logger);
      if (opts.pullSecret) {
        const creds = opts.dest.credentials ?? await resolveCredentials(target.host, opts.dest);
        if (creds && creds.password) {
          written.push(await writePullSecret(outDir, { ...opts.pullSecret, registry: target.host, username: creds.username, password: creds.password }));
        } else {
          logger.warn(`pull-secret.yaml is not written: no password for ${target.host} was found in the authfile`);
        }
      }
      written.push(await writeReleaseRecord({
        outDir, bundleId, ...(status.signer ? { bundleSigner: status.signer } : {}), bundleCreated: manifest.created,
        target: receipt.target, host: target.host, artifacts: manifest.artifacts, mapped: mappedArtifacts, deliveries,
        ...(releaseFiles ? { releaseFiles } : {}),
      }));
      const receiptPath = join(outDir, 'receipt.json');
      if (receiptKey) await writeReceiptSignature(receiptPath, receiptKey, { bundleId, target: receipt.target });
      else await removeReceiptSignature(receiptPath);
      await audit?.write({ action: 'finish', result: 'ok', detail: `${report.blobsPushed} blobs pushed, ${report.tagsSet} tags` });
      await audit?.flush();
      const kept = await site.saveReceipt(receipt, `${JSON.stringify(receipt, null, 2)}\n`);
      await site.recordImport({
        version: 1, kind: 'airlock-import', result: 'ok', started: receipt.started, finished: receipt.finished, target: receipt.target,
        bundleId, bundleCreated: manifest.created, ...(status.signer ? { signer: status.signer } : {}), complete: receipt.complete,
        artifacts: artifacts.length, blobsPushed: report.blobsPushed + base.copied, bytesPushed: report.bytesPushed + base.bytesCopied,
        tagsSet: report.tagsSet, tagsMoved: tagMoves.size, receipt: kept,
      });
    }

    return {
      version: 1, bundleId, signature: status, target: opts.to, dryRun: Boolean(opts.dryRun), artifacts,
      blobsPushed: report.blobsPushed + base.copied, bytesPushed: report.bytesPushed + base.bytesCopied, blobsMounted: report.blobsMounted + base.mounted,
      blobsAlreadyPresent: report.blobsExisting,
      ...(opts.dryRun ? {
        blobsToPush: report.toPush.length, bytesToPush: report.toPush.reduce((s, b) => s + b.size, 0),
        targetSupport: await describeTargetSupport(client, targets, signal),
        plan: describePlan(copyPlan),
      } : {}),
      manifestsPushed: report.manifestsPushed, tagsSet: report.tagsSet,
      volumesRemaining, ...(opts.dryRun ? {} : { outDir }),
      ...(tracker.delivered.size > 0 ? { files: [...tracker.delivered].sort() } : {}),
      ...(releaseFiles && releaseFiles.signed.length + releaseFiles.checksums.length > 0 ? { releaseFiles } : {}),
      ...(rewritten && rewritten.length > 0 ? { rewritten } : {}), ...(written.length > 0 ? { written } : {}), durationMs: Date.now() - started.getTime(),
      ...(tool ? { tool } : {}),
      ...(decision ? { policy: decision } : {}),
      ...(preflight.createdProjects.length > 0 ? { projectsCreated: [...preflight.createdProjects] } : {}),
      ...(tagMoves.size > 0 ? { tagMoves: [...tagMoves.values()] } : {}),
      ...(shared ? { pieces: { parked: shared.piecesParked, fetched: shared.piecesFetched, assembled: shared.blobsAssembled } } : {}),
    };
  } catch (err) {
    await recordFailure(err, bundleIdForRecord);
    throw err;
  } finally {
    await releaseKept?.();
    await journal?.close().catch(() => {});
    for (const r of rereads) await r.close().catch(() => {});
    await reader.close().catch(() => {});
    await stopWarmUp();
    await client.close().catch(() => {});
  }
}

/** Descriptors of what the bundle carries or relies on, by digest: the plan's nodes, then airlock.json's blob list. */
function descriptorLookup(plan: BundlePlan, manifest: AirlockManifest): (d: Digest) => Descriptor | undefined {
  let listed: Map<Digest, BundleBlob> | undefined;
  return (d) => {
    const node = plan.nodes.get(d);
    if (node) return node.desc;
    listed ??= new Map(manifest.blobs.map((b) => [b.digest, b]));
    const b = listed.get(d);
    return b ? { mediaType: b.mediaType, digest: b.digest, size: b.size } : undefined;
  };
}

/** Repositories of the target's catalog tried as mount sources for a delta's left-out blobs. */
const MAX_MOUNT_CANDIDATES = 1000;

interface BaseCheckOptions {
  readonly client: RegistryClient;
  readonly repoFor: (path: string) => RegistryRepository;
  readonly journal: FileJournal | undefined;
  readonly concurrency: number;
  /** Look, but mount nothing. */
  readonly dryRun: boolean;
  /** Called with the repositories to mount into, before the first mount (import's preflight). */
  readonly beforeMount?: (repositories: readonly string[]) => Promise<void>;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * A delta leaves out the blobs its bases held. Before any manifest is pushed, every such blob
 * must be in the target repository that needs it: found there (HEAD), or mounted from another
 * repository of the target (this bundle's repositories first, then any in the catalog). If one
 * is missing, nothing has been pushed or tagged: throw BASE_MISSING naming the bases to import
 * first.
 */
async function ensureBaseBlobs(manifest: AirlockManifest, plan: BundlePlan, targets: readonly RootTarget[], o: BaseCheckOptions): Promise<{ mounted: number; copied: number; bytesCopied: number }> {
  const baseBlobs = new Map<Digest, BundleBlob>(manifest.blobs.filter((b) => b.location === 'base').map((b) => [b.digest, b]));
  if (baseBlobs.size === 0) return { mounted: 0, copied: 0, bytesCopied: 0 };
  const needs = new Map<string, { repo: string; blob: BundleBlob }>();
  for (const t of targets) {
    for (const d of plan.closureOf(t.root)) {
      const b = baseBlobs.get(d);
      if (b) needs.set(`${t.repository} ${d}`, { repo: t.repository, blob: b });
    }
  }
  const co = o.signal ? { signal: o.signal } : {};
  const descOf = (b: BundleBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  // Which repositories hold a blob, asked once per (repository, blob).
  const holds = new Map<string, Promise<boolean>>();
  const has = (repo: string, b: BundleBlob): Promise<boolean> => {
    const k = `${repo} ${b.digest}`;
    let p = holds.get(k);
    if (!p) holds.set(k, (p = o.repoFor(repo).exists(descOf(b), co)));
    return p;
  };
  const findSource = async (repo: string, blob: BundleBlob, candidates: readonly string[]): Promise<string | undefined> => {
    for (const from of candidates) {
      if (from !== repo && (await has(from, blob).catch(() => false))) return from;
    }
    return undefined;
  };

  // 1. Look first, change nothing: every blob is in place or has a repository to mount it from.
  const ownRepos = [...new Set(targets.map((t) => t.repository))];
  const mounts: { repo: string; blob: BundleBlob; from: string }[] = [];
  let lacking: { repo: string; blob: BundleBlob }[] = [];
  await forEachConcurrent([...needs.values()], o.concurrency, async (n) => {
    if (o.journal?.has(journalKey('blob', n.repo, n.blob.digest)) || (await has(n.repo, n.blob))) return;
    const from = await findSource(n.repo, n.blob, ownRepos);
    if (from) mounts.push({ ...n, from });
    else lacking.push(n);
  }, o.signal);
  if (lacking.length > 0) {
    // "Mount from any repository of the target": an earlier bundle may have landed elsewhere
    // (another prefix or layout). The catalog is optional in the distribution spec: without it,
    // the blobs count as missing.
    const others = await o.client.catalog(co).then(
      // Bounded: each candidate costs one HEAD per missing blob.
      (all) => all.filter((r) => !ownRepos.includes(r)).slice(0, MAX_MOUNT_CANDIDATES),
      (err: unknown) => {
        o.logger.debug(`cannot list ${o.client.registry}'s repositories to mount base blobs from: ${(err as Error).message}`);
        return [] as string[];
      },
    );
    const still: { repo: string; blob: BundleBlob }[] = [];
    await forEachConcurrent(lacking, o.concurrency, async (n) => {
      const from = await findSource(n.repo, n.blob, others);
      if (from) mounts.push({ ...n, from });
      else still.push(n);
    }, o.signal);
    lacking = still;
  }

  // 2. Only when nothing is missing, mount (so a refused delta leaves the target as it was).
  let mounted = 0;
  let copied = 0;
  let bytesCopied = 0;
  if (lacking.length === 0 && !o.dryRun) {
    if (mounts.length > 0) await o.beforeMount?.([...new Set(mounts.map((m) => m.repo))]);
    await forEachConcurrent(mounts, o.concurrency, async (m) => {
      if (await o.repoFor(m.repo).mount(descOf(m.blob), m.from, co)) {
        mounted++;
        await o.journal?.record(journalKey('blob', m.repo, m.blob.digest), { action: 'mount', repository: m.repo, from: m.from, digest: m.blob.digest });
        return;
      }
      // The registry opened an upload instead of mounting (spec "Mounting a blob from another
      // repository": 202; Nexus never mounts): copy the blob over from the repository that holds
      // it, verified on its way, as a plain upload.
      const desc = descOf(m.blob);
      const body = await o.repoFor(m.from).fetch(desc, co);
      const verified = body.pipe(verifyStream(desc, { where: `${o.client.registry}/${m.from}@${desc.digest}` }));
      body.on('error', (err) => verified.destroy(err));
      await o.repoFor(m.repo).push(desc, verified, co);
      copied++;
      bytesCopied += desc.size;
      await o.journal?.record(journalKey('blob', m.repo, m.blob.digest), { action: 'push', repository: m.repo, from: m.from, digest: m.blob.digest });
    }, o.signal);
  }

  if (lacking.length > 0) {
    const missing = [...new Map(lacking.map((n) => [n.blob.digest, n.blob])).values()];
    const ids = [...new Set(missing.flatMap((b) => b.bases ?? []))];
    const kindOf = new Map(manifest.bases.map((b) => [b.id, b.kind]));
    const bundles = ids.filter((id) => kindOf.get(id) !== 'receipt');
    const receipts = ids.filter((id) => kindOf.get(id) === 'receipt');
    const hint = [
      bundles.length > 0 ? `import the base bundle(s) first: ${bundles.join(', ')}` : '',
      receipts.length > 0 ? `the site's receipt(s) ${receipts.join(', ')} said the target held them; it no longer does: export again without that receipt as --since` : '',
    ].filter(Boolean).join('; ');
    throw new AirlockError('BASE_MISSING', `this is a delta bundle and ${o.client.registry} lacks ${missing.length} blob(s) it relies on; no manifest was pushed and nothing was tagged`, {
      where: `${lacking[0]!.repo}@${missing[0]!.digest} (${plan.describe(missing[0]!.digest)})`,
      hint: hint || 'import the bundles this delta was made against first',
    });
  }  return { mounted, copied, bytesCopied };
}

/**
 * The bundle's blob entries in order, with blobs cut into pieces (split bundles) reassembled: each
 * piece is verified against its own digest and spooled under the state dir (temp name, renamed
 * when whole) until the blob is whole. The spool outlives the run: volumes are imported in any
 * order, one command each, so the pieces of one blob arrive in different runs.
 */
async function* assemblePieces(reader: BundleReader, manifest: AirlockManifest, spoolDir: string, logger: Logger, signal?: AbortSignal): AsyncIterable<SequentialBlob> {
  const cut = new Map<Digest, BundleBlob>();
  for (const b of manifest.blobs) if (b.pieces) cut.set(b.digest, b);
  const pieceFile = (d: Digest, offset: number): string => spoolFile(spoolDir, d, offset);
  /** Pieces this run wrote (verified on their way in). */
  const fresh = new Set<string>();
  // The spool is state on disk, a hint like the journal: a piece an earlier run left is checked
  // against its digest before use, and a damaged one is removed, so that its blob waits for that
  // volume to be imported again instead of failing every run (issue 17).
  const whole = async (b: BundleBlob): Promise<boolean> => {
    let ok = true;
    for (const p of b.pieces!) {
      const file = pieceFile(b.digest, p.offset);
      const s = await stat(file).catch(() => undefined);
      if (s?.size !== p.size) ok = false;
      else if (!fresh.has(file) && (await sha256OfFile(file)) !== p.digest) {
        logger.warn(`the piece at ${p.offset} of blob ${b.digest} kept from an earlier run (volume ${p.volume}) is damaged: removed; import volume ${p.volume} again`);
        await rm(file, { force: true });
        ok = false;
      } else fresh.add(file);
    }
    return ok;
  };
  const body = (b: BundleBlob): Readable => Readable.from(concatFiles([...b.pieces!].sort((x, y) => x.offset - y.offset).map((x) => pieceFile(b.digest, x.offset))));
  const yielded = new Set<Digest>();
  for await (const entry of reader.blobs()) {
    signal?.throwIfAborted();
    if (!entry.piece) {
      yield { desc: entry.desc, body: entry.body };
      continue;
    }
    const p = entry.piece;
    await mkdir(spoolDir, { recursive: true });
    const file = pieceFile(entry.desc.digest, p.offset);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await pipeline(entry.body, verifyStream({ digest: p.digest, size: p.size }, { where: `piece at ${p.offset} of blob ${entry.desc.digest}` }), createWriteStream(tmp));
      await rename(tmp, file);
      fresh.add(file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    const blob = cut.get(entry.desc.digest);
    if (blob && !yielded.has(blob.digest) && (await whole(blob))) {
      yielded.add(blob.digest);
      yield { desc: entry.desc, body: body(blob) };
    }
  }
  // Pieces spooled by earlier runs (another volume, or a run killed before it pushed the blob).
  for (const blob of cut.values()) {
    if (yielded.has(blob.digest) || !(await whole(blob))) continue;
    yield { desc: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size }, body: body(blob) };
  }
}

/** A file an earlier run delivered: present under out-dir with the delivery's size and digest. */
async function isDelivered(outDir: string, d: Delivery): Promise<boolean> {
  const path = join(outDir, d.path);
  if ((await stat(path).catch(() => undefined))?.size !== d.size) return false;
  return (await sha256OfFile(path)) === d.digest;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function* concatFiles(files: readonly string[]): AsyncIterable<Buffer> {
  for (const f of files) {
    for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
  }
}

/** A referrer found through its subject (not a cosign-style tag): listed by the tag schema where the target has no referrers API. */
function listedByTagSchema(root: RootTarget['root']): boolean {
  return root.kind === 'referrer' && !root.referrerTag && root.subject !== undefined;
}

async function updateReferrerFallbacks(
  completed: readonly RootTarget[],
  repoFor: (path: string) => RegistryRepository,
  plan: BundlePlan,
  logger: Logger,
  signal?: AbortSignal,
  /** Asked alongside the copy (referrerListed): true skips the referrer; false or absent asks again here. */
  alreadyListed?: ReadonlyMap<string, Promise<boolean>>,
): Promise<void> {
  for (const t of completed) {
    const root = t.root;
    if (!listedByTagSchema(root)) continue;
    const bytes = plan.nodes.get(root.desc.digest)?.bytes;
    if (!bytes) continue;
    if (!(await alreadyListed?.get(`${t.repository}@${root.desc.digest}`))) await repoFor(t.repository).ensureReferrerListed(root.desc, bytes, signal ? { signal } : {});
    logger.debug(`referrer ${root.desc.digest} of ${root.subject} is listed in ${t.repository}`);
  }
}

/**
 * Read-only: what a dry run can learn about the target without writing to it (auth, referrers
 * API). Whether it accepts OCI artifacts or Docker media types takes writes: `registry probe`.
 */
async function describeTargetSupport(client: RegistryClient, targets: readonly RootTarget[], signal?: AbortSignal): Promise<TargetSupport> {
  const o = signal ? { signal } : {};
  await client.ping(o);
  const first = targets[0]?.repository;
  const referrersApi = first ? await client.supportsReferrersApi(first, o) : false;
  const notes: string[] = [];
  // Harbor: the projects the repositories need (read-only: its API's HEAD /projects).
  if (await client.harbor.detect(o)) {
    for (const p of [...new Set(targets.map((t) => t.repository.split('/')[0]!))]) {
      if (!(await client.harbor.projectExists(p, o).catch(() => true))) notes.push(`Harbor has no project "${p}": create it, or import with --create-projects (the import stops before pushing otherwise)`);
    }
  }
  const referrers = targets.filter((t) => t.root.kind === 'referrer' && !t.root.referrerTag);
  if (referrers.length > 0 && !referrersApi) {
    notes.push(`no referrers API: ${referrers.length} referrer(s) will be listed with the tag schema (sha256-<hex> tags)`);
  }
  const artifacts = targets.filter((t) => t.root.artifactType !== undefined || t.root.kind === 'chart' || t.root.kind === 'file');
  if (artifacts.length > 0) {
    notes.push(`${artifacts.length} OCI artifact(s) (charts, files, SBOMs, signatures): if unsure the target accepts them, run \`airlock registry probe\` (it writes to a scratch repository)`);
  }
  if (targets.some((t) => t.root.desc.mediaType.startsWith('application/vnd.docker.'))) {
    notes.push('Docker schema 2 manifests are pushed unchanged: the target must accept Docker media types (registry probe checks)');
  }
  return { auth: client.authScheme ?? 'anonymous', referrersApi, notes };
}

function remainingVolumes(manifest: AirlockManifest, missing: readonly Digest[]): number[] {
  if (!manifest.volumes) return [];
  const byDigest = new Map(manifest.blobs.map((b) => [b.digest, b]));
  const vols = new Set<number>();
  for (const d of missing) {
    const b = byDigest.get(d);
    if (b?.volume !== undefined) vols.add(b.volume);
    for (const p of b?.pieces ?? []) vols.add(p.volume);
  }
  return [...vols].sort((a, b) => a - b);
}

/** A supply with nothing in it: the second look of a split import reads no bundle. */
async function* noBlobs(): AsyncIterable<SequentialBlob> {
  // nothing
}

/**
 * The target refused a write for want of content a run took to be there (from the journal, or a
 * registry that lost it since it was asked): a manifest whose blobs or child manifests it lacks
 * (distribution spec "Pushing Manifests": MANIFEST_BLOB_UNKNOWN; Distribution also answers
 * BLOB_UNKNOWN and MANIFEST_UNKNOWN), or a tag on a manifest it no longer has (404). The journal
 * is then set aside and the run checks everything again (copy/journal-check.ts).
 */
export function isStaleClaimError(err: unknown): boolean {
  if (!(err instanceof RegistryError) || !isAirlockError(err)) return false;
  return err.has('MANIFEST_BLOB_UNKNOWN') || err.has('BLOB_UNKNOWN') || err.has('MANIFEST_UNKNOWN') || err.code === 'NOT_FOUND';
}
