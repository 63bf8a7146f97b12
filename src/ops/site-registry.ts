import { mkdir, rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { defaultStateDir } from '../cache/index.js';
import {
  AuditLog, SiteState, currentDigest, deletePrunedManifests, lastImportMoveOnto, planRepositoryPrune, prunePlansFromReceipts, readPending,
  type PendingPrune, type PruneManifest, type Receipt,
} from '../deploy/index.js';
import { forgetInJournals, parseJournalKey } from '../copy/index.js';
import { AirlockError, ioError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { formatReference, parseTarget, type Reference, type TargetRegistry } from '../reference/index.js';
import { createRegistryClient, type RegistryClient, type RegistryHostConfig } from '../registry/index.js';
import { writeFileAtomic } from '../util/index.js';

// ---------------------------------------------------------------------------------------------
// rollback

export interface SiteRollbackOptions {
  /** `HOST[:PORT]/REPOSITORY:TAG` in the target registry, parsed once by the caller (`parseReference`). */
  readonly ref: Reference;
  readonly stateDir?: string;
  readonly dest: RegistryHostConfig;
  /** Go to this digest instead of the one the tag's last recorded move came from. */
  readonly digest?: Digest;
  readonly dryRun?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

export interface SiteRollbackResult {
  readonly version: 1;
  readonly ref: string;
  /** Where the tag pointed. */
  readonly from: Digest;
  /** Where it points now (or would, with --dry-run). */
  readonly to: Digest;
  /** The recorded move that is undone: when, and by which bundle's import. */
  readonly undoes?: { readonly time: string; readonly historyTag?: string };
  readonly dryRun: boolean;
}

/**
 * `airlock site rollback REF`: re-point a tag at the digest it left when an import moved it (the
 * newest recorded move onto its current digest; run again to go further back). The earlier
 * manifest is copied byte for byte from the registry, where it stayed (under TAG-prev-<n> with
 * --keep-previous-tags, or untagged until a prune or garbage collection). Audited.
 */
export async function siteRollback(opts: SiteRollbackOptions): Promise<SiteRollbackResult> {
  const ref = opts.ref;
  if (ref.tag === undefined || ref.digest !== undefined) {
    throw new AirlockError('USAGE', `${formatReference(ref)}: name a tag, not a digest`, { hint: 'write REF as HOST[:PORT]/REPOSITORY:TAG, as in the image map' });
  }
  const tag = ref.tag;
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const site = new SiteState(stateDir);
  const where = `${ref.registry}/${ref.repository}:${tag}`;
  const client = createRegistryClient(ref.registry, opts.dest, { ...(opts.logger ? { logger: opts.logger } : {}), side: 'dest' });
  const call = opts.signal ? { signal: opts.signal } : {};
  try {
    const repo = client.repository(ref.repository);
    const current = await currentDigest(repo, tag, call);
    if (!current) throw new AirlockError('NOT_FOUND', `${where} does not exist`, { where, hint: 'check REF against the image map of the import' });
    let to = opts.digest;
    let undoes: SiteRollbackResult['undoes'];
    if (!to) {
      const last = await lastImportMoveOnto(site, ref.registry, ref.repository, tag, current.digest);
      if (!last) {
        throw new AirlockError('NOT_FOUND', `no import recorded moving ${where} onto its current digest ${current.digest}`, {
          where: site.auditPath,
          hint: 'pass --digest to name the digest to go back to, or the --state-dir that the imports used',
        });
      }
      to = last.previous;
      undoes = { time: last.time, ...(last.historyTag ? { historyTag: last.historyTag } : {}) };
    }
    if (to === current.digest) throw new AirlockError('USAGE', `${where} already points at ${to}`, { where });
    let earlier: { desc: Descriptor; bytes: Buffer };
    try {
      earlier = await repo.fetchManifest(to, call);
    } catch (err) {
      if (isAirlockError(err) && err.code === 'NOT_FOUND') {
        throw new AirlockError('NOT_FOUND', `the earlier manifest ${to} is no longer in ${ref.registry}/${ref.repository}`, {
          where, cause: err, hint: 'it was deleted (site prune, registry garbage collection); import the bundle that carried it again, then roll back. Import with --keep-previous-tags to keep earlier digests tagged',
        });
      }
      throw err;
    }
    if (!opts.dryRun) {
      const audit = new AuditLog(site.auditPath, { registry: ref.registry });
      try {
        await repo.pushManifest(earlier.desc, earlier.bytes, tag, call);
      } catch (err) {
        await audit.write({ action: 'rollback', repository: ref.repository, tag, digest: to, previous: current.digest, result: 'error', detail: (err as Error).message }).catch(() => {});
        throw err;
      }
      await audit.write({ action: 'rollback', repository: ref.repository, tag, digest: to, previous: current.digest, result: 'ok' });
      // The journals of earlier imports say this tag points where it no longer does: a re-import
      // of the bundle that moved it must move it again.
      await forgetInJournals(stateDir, (k) => {
        const step = parseJournalKey(k);
        return step?.kind === 'tag' && step.repository === ref.repository && step.tag === tag;
      });
    }
    return { version: 1, ref: where, from: current.digest, to, ...(undoes ? { undoes } : {}), dryRun: Boolean(opts.dryRun) };
  } finally {
    await client.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// prune

export interface SitePruneOptions {
  /** Keep what the last N bundle imports delivered (N ≥ 1). */
  readonly keep: number;
  /** `HOST[:PORT][/PREFIX]`; default: the target of the newest import. */
  /** `--to HOST[:PORT][/PREFIX]`, parsed once by the caller (`parseTarget`). Default: the target of the last successful import. */
  readonly to?: TargetRegistry;
  readonly stateDir?: string;
  readonly dest: RegistryHostConfig;
  /** Default false: print the plan, delete nothing. */
  readonly apply?: boolean;
  readonly concurrency?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

export interface SitePruneResult {
  readonly version: 1;
  readonly target: string;
  readonly keep: number;
  /** Bundles whose content is kept, newest first. */
  readonly bundlesKept: readonly string[];
  /** Older bundles: what only they delivered is deleted. */
  readonly bundlesPruned: readonly string[];
  readonly delete: readonly PruneManifest[];
  /** Manifests an older bundle delivered that stay: a kept bundle or a tag outside Airlock points at them. */
  readonly protected: readonly { readonly repository: string; readonly digest: Digest; readonly reason: string }[];
  /** Manifests an older bundle delivered that are already gone. */
  readonly alreadyGone: number;
  /** What a registry garbage collection can then free: blobs (configs, layers, the manifests themselves) no kept manifest in these repositories references. */
  readonly gc: { readonly blobs: number; readonly bytes: number };
  readonly applied: boolean;
  readonly deleted: number;
}

/**
 * `airlock site prune --keep N`: from the site's receipts, delete through the registry API the
 * manifests that only bundle imports older than the last N delivered. Never one that a kept
 * bundle delivered, nor one a tag outside Airlock's points at (or that such a manifest holds).
 * Airlock's own tags (the ones receipts set, TAG-prev-<n>, referrer fallback tags) go with what they
 * point at. Indexes are deleted before the manifests they list, so no tag ever names an index
 * with a missing child. The registry frees the blobs at its next garbage collection.
 */
export async function sitePrune(opts: SitePruneOptions): Promise<SitePruneResult> {
  if (!Number.isSafeInteger(opts.keep) || opts.keep < 1) {
    throw new AirlockError('USAGE', `--keep ${opts.keep}: keep at least the last import`, { hint: 'pass --keep N with N ≥ 1' });
  }
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const site = new SiteState(stateDir);
  const records = await site.requireImports();
  const recorded = opts.to ? undefined : records.filter((r) => r.result === 'ok').at(-1)?.target;
  if (!opts.to && !recorded) throw new AirlockError('NOT_FOUND', 'no import has succeeded; nothing to prune', { where: site.dir });
  // A recorded target was written by an import from its own parsed --to: parsing it again here reads our own record, not user input.
  const target = opts.to ?? parseTarget(recorded!, 'the recorded import target');
  const targetName = `${target.host}${target.prefix ? `/${target.prefix}` : ''}`;
  const receipts = (await site.receipts()).map((r) => r.receipt).filter((r) => r.target === targetName);
  if (receipts.length === 0) {
    throw new AirlockError('NOT_FOUND', `no receipt recorded for ${targetName}`, { where: site.receiptsDir, hint: 'pass the --to that the imports used' });
  }
  // Bundles, newest import first; a split bundle's receipts (one per volume run) count as one.
  const order: Digest[] = [];
  for (const r of [...receipts].reverse()) if (!order.includes(r.bundleId)) order.push(r.bundleId);
  const kept = new Set(order.slice(0, opts.keep));
  const pruned = order.slice(opts.keep);

  const repos = prunePlansFromReceipts(receipts as Receipt[], target.host, kept);

  const client = createRegistryClient(target.host, opts.dest, { ...(opts.logger ? { logger: opts.logger } : {}), side: 'dest' });
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const toDelete: PruneManifest[] = [];
  const protectedList: { repository: string; digest: Digest; reason: string }[] = [];
  let alreadyGone = 0;
  const freedBlobs = new Map<Digest, number>();
  const keptBlobs = new Set<Digest>();
  const pendingPath = join(site.dir, 'prune-pending.json');
  try {
    // A prune that was stopped during its deletes: finish them first (what is gone is skipped).
    let finished = 0;
    const left = await readPending(pendingPath);
    if (left && left.target === targetName) {
      if (opts.apply) {
        finished = await applyPrune(left, { client, site, stateDir, registry: target.host, ...(opts.signal ? { signal: opts.signal } : {}) });
        await rm(pendingPath, { force: true });
      } else {
        opts.logger?.warn(`an earlier prune --apply was stopped with ${left.manifests.length} manifest(s) to delete; run prune --apply to finish it`);
      }
    }
    for (const [repository, p] of repos) {
      const r = await planRepositoryPrune(client.repository(repository), repository, p, { concurrency, signal: opts.signal });
      toDelete.push(...r.toDelete);
      protectedList.push(...r.protected);
      alreadyGone += r.alreadyGone;
      for (const [d, size] of r.freedBlobs) freedBlobs.set(d, size);
      for (const d of r.keptBlobs) keptBlobs.add(d);
    }
    for (const d of keptBlobs) freedBlobs.delete(d);

    let deleted = 0;
    if (opts.apply && toDelete.length > 0) {
      // The plan is written down before the first delete: a prune killed half-way finishes it on
      // its next run (the children of an index already deleted are found by nothing else).
      const pending: PendingPrune = {
        version: 1, target: targetName,
        manifests: toDelete.map((m) => ({ repository: m.repository, digest: m.digest, mediaType: m.mediaType, size: m.size, tags: m.tags })),
        blobs: [...freedBlobs.keys()],
      };
      await mkdir(site.dir, { recursive: true }).catch((err: unknown) => { throw ioError(err, 'create', site.dir); });
      await writeFileAtomic(pendingPath, `${JSON.stringify(pending)}\n`, 0o640);
      deleted = await applyPrune(pending, { client, site, stateDir, registry: target.host, ...(opts.signal ? { signal: opts.signal } : {}) });
      await rm(pendingPath, { force: true });
    }
    return {
      version: 1, target: targetName, keep: opts.keep, bundlesKept: [...kept], bundlesPruned: pruned,
      delete: toDelete, protected: protectedList, alreadyGone,
      gc: { blobs: freedBlobs.size, bytes: [...freedBlobs.values()].reduce((s, n) => s + n, 0) },
      applied: Boolean(opts.apply), deleted: deleted + finished,
    };
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * Carry out a written-down prune: make the journals forget what goes (first: forgetting only makes
 * a re-import ask again), then delete each manifest still there, indexes first, each audited.
 */
async function applyPrune(
  pending: PendingPrune,
  ctx: { client: RegistryClient; site: SiteState; stateDir: string; registry: string; signal?: AbortSignal },
): Promise<number> {
  const gone = new Set(pending.manifests.map((m) => `${m.repository} ${m.digest}`));
  const freed = new Set<string>(pending.blobs);
  await forgetInJournals(ctx.stateDir, (k) => {
    const step = parseJournalKey(k);
    if (!step) return false;
    return step.kind === 'blob' ? freed.has(step.digest) : gone.has(`${step.repository} ${step.digest}`);
  });
  return deletePrunedManifests(pending, { client: ctx.client, auditPath: ctx.site.auditPath, registry: ctx.registry, signal: ctx.signal });
}
