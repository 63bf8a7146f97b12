/**
 * `airlock site prune`'s domain part: which manifests of a repository only older bundle imports
 * delivered (and what a garbage collection then frees), the written-down plan a stopped prune
 * finishes, and its audited deletes. The use case (ops/site-registry.ts) reads the site's
 * receipts, makes the journals forget, and drives these.
 */
import { readFile } from 'node:fs/promises';
import { AirlockError, isAirlockError } from '../errors.js';
import { parseManifest, successors, isManifestMediaType, type Descriptor, type Digest } from '../oci/index.js';
import type { RegistryClient, RegistryRepository } from '../registry/index.js';
import { forEachConcurrent } from '../util/index.js';
import { AuditLog } from './audit.js';
import type { Receipt } from './receipt.js';
import { currentDigest, historyTagPattern } from './tag-history.js';

export interface PruneManifest {
  readonly repository: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  /** Tags that point at it now (they go with it). */
  readonly tags: readonly string[];
  /** A bundle root (`root`) or a manifest inside a deleted index, or a referrer fallback index (`child`). */
  readonly role: 'root' | 'child';
}

interface Held {
  readonly desc: Descriptor;
  /** Child manifests (index) — empty for an image manifest. */
  readonly children: readonly Descriptor[];
  /** Blobs it references: config and layers. */
  readonly blobs: readonly Descriptor[];
}

const FALLBACK_TAG = /^sha256-([0-9a-f]{64})$/;

/** Per repository: what kept and older bundles delivered, and the tags Airlock set. */
export interface RepositoryPrunePlan {
  readonly keptRoots: Set<Digest>;
  readonly olderRoots: Set<Digest>;
  readonly airlockTags: Set<string>;
}

/** From the receipts of one target (`host`): each repository's plan, with the bundles in `kept` kept. */
export function prunePlansFromReceipts(receipts: readonly Receipt[], host: string, kept: ReadonlySet<Digest>): Map<string, RepositoryPrunePlan> {
  const repos = new Map<string, RepositoryPrunePlan>();
  const planOf = (repository: string): RepositoryPrunePlan => {
    let p = repos.get(repository);
    if (!p) repos.set(repository, (p = { keptRoots: new Set(), olderRoots: new Set(), airlockTags: new Set() }));
    return p;
  };
  const repoPath = (artifactTarget: string): string | undefined =>
    artifactTarget.startsWith(`${host}/`) ? artifactTarget.slice(host.length + 1) : undefined;
  for (const r of receipts) {
    for (const a of r.artifacts) {
      const path = repoPath(a.target);
      if (!path || a.status === 'waiting') continue;
      const p = planOf(path);
      (kept.has(r.bundleId) ? p.keptRoots : p.olderRoots).add(a.digest);
      if (a.tag !== undefined) p.airlockTags.add(a.tag);
    }
  }
  return repos;
}

export interface RepositoryPruneResult {
  /** In delete order: roots before the manifests they list. */
  readonly toDelete: readonly PruneManifest[];
  readonly protected: readonly { readonly repository: string; readonly digest: Digest; readonly reason: string }[];
  readonly alreadyGone: number;
  /** Blobs (and manifests) the deletes free, with their sizes, before what other repositories keep is taken out. */
  readonly freedBlobs: ReadonlyMap<Digest, number>;
  /** Blobs (and manifests) kept manifests hold. */
  readonly keptBlobs: ReadonlySet<Digest>;
}

/**
 * One repository: kept are what kept bundles delivered, every foreign tag (and what it holds), and
 * Airlock's tags on what no older bundle delivered; the rest that older bundles delivered goes,
 * with its referrer fallback indexes. Reads manifests only, deletes nothing.
 */
export async function planRepositoryPrune(
  repo: RegistryRepository, repository: string, p: RepositoryPrunePlan, opts: { readonly concurrency: number; readonly signal?: AbortSignal | undefined },
): Promise<RepositoryPruneResult> {
  const { concurrency, signal } = opts;
  const call = signal ? { signal } : {};
  const toDelete: PruneManifest[] = [];
  const protectedList: { repository: string; digest: Digest; reason: string }[] = [];
  let alreadyGone = 0;
  const freedBlobs = new Map<Digest, number>();
  const keptBlobs = new Set<Digest>();
  const held = new Map<Digest, Held | null>();
  const read = async (digest: Digest): Promise<Held | null> => {
    if (held.has(digest)) return held.get(digest)!;
    let got: Held | null = null;
    try {
      const { desc, bytes } = await repo.fetchManifest(digest, call);
      const m = parseManifest(bytes, desc.mediaType, `${repository}@${digest}`);
      const succ = successors(m);
      got = { desc, children: succ.filter((d) => isManifestMediaType(d.mediaType)), blobs: succ.filter((d) => !isManifestMediaType(d.mediaType)) };
    } catch (err) {
      if (!(isAirlockError(err) && err.code === 'NOT_FOUND')) throw err;
    }
    held.set(digest, got);
    return got;
  };
  const closure = async (roots: Iterable<Digest>): Promise<Set<Digest>> => {
    const out = new Set<Digest>();
    const todo = [...roots];
    while (todo.length > 0) {
      const batch = todo.splice(0).filter((d) => !out.has(d));
      for (const d of batch) out.add(d);
      await forEachConcurrent(batch, concurrency, async (d) => {
        const h = await read(d);
        if (h) for (const c of h.children) if (!out.has(c.digest)) todo.push(c.digest);
      }, signal);
    }
    return new Set([...out].filter((d) => held.get(d)));
  };

  // Every tag in the repository and where it points.
  const tagged = new Map<string, Digest>();
  const tags = await repo.tags(call);
  await forEachConcurrent(tags, concurrency, async (t) => {
    const d = await currentDigest(repo, t, call);
    if (d) tagged.set(t, d.digest);
  }, signal);
  const tagsOf = (d: Digest): string[] => [...tagged].filter(([, v]) => v === d).map(([t]) => t).sort();
  const historyOf = [...p.airlockTags].map((t) => historyTagPattern(t));
  const isAirlocks = (t: string): boolean => p.airlockTags.has(t) || FALLBACK_TAG.test(t) || historyOf.some((re) => re.test(t));

  // Kept: what kept bundles delivered, every foreign tag, and Airlock's tags on what no older bundle delivered.
  const keepRoots = new Set<Digest>(p.keptRoots);
  const reasons = new Map<Digest, string>();
  for (const d of p.keptRoots) reasons.set(d, 'a kept bundle delivered it');
  for (const [t, d] of tagged) {
    if (FALLBACK_TAG.test(t)) continue;
    if (!isAirlocks(t)) {
      keepRoots.add(d);
      if (!reasons.has(d)) reasons.set(d, `tag ${t} (not Airlock's) points at it`);
    } else if (!p.olderRoots.has(d)) keepRoots.add(d);
  }
  let keepSet = await closure(keepRoots);
  let candidates = new Set([...p.olderRoots].filter((d) => !keepSet.has(d)));
  let deleteSet = new Set([...(await closure(candidates))].filter((d) => !keepSet.has(d)));
  // Referrer fallback indexes go with their subject, and stay with it.
  let again = false;
  for (const [t, d] of tagged) {
    const m = FALLBACK_TAG.exec(t);
    if (!m) continue;
    if (deleteSet.has(`sha256:${m[1]}` as Digest)) candidates.add(d);
    else {
      keepRoots.add(d);
      again = true;
    }
  }
  if (again) keepSet = await closure(keepRoots);
  candidates = new Set([...candidates].filter((d) => !keepSet.has(d)));
  const rootsNow = new Set(candidates);
  deleteSet = new Set([...(await closure(candidates))].filter((d) => !keepSet.has(d)));

  for (const d of p.olderRoots) {
    if (held.get(d) === null) alreadyGone++;
    else if (keepSet.has(d) && !p.keptRoots.has(d)) protectedList.push({ repository, digest: d, reason: reasons.get(d) ?? 'a kept manifest holds it' });
  }
  // Parents before children: roots first, then what they list, in closure order.
  const ordered = [...deleteSet].sort((a, b) => Number(rootsNow.has(b)) - Number(rootsNow.has(a)));
  for (const d of ordered) {
    const h = held.get(d)!;
    toDelete.push({ repository, digest: d, mediaType: h.desc.mediaType, size: h.desc.size, tags: tagsOf(d), role: rootsNow.has(d) ? 'root' : 'child' });
    freedBlobs.set(d, h.desc.size);
    for (const b of h.blobs) freedBlobs.set(b.digest, b.size);
  }
  for (const d of keepSet) {
    keptBlobs.add(d);
    for (const b of held.get(d)?.blobs ?? []) keptBlobs.add(b.digest);
  }
  return { toDelete, protected: protectedList, alreadyGone, freedBlobs, keptBlobs };
}

export interface PendingPrune {
  readonly version: 1;
  readonly target: string;
  /** In delete order: indexes before what they list. */
  readonly manifests: readonly { readonly repository: string; readonly digest: Digest; readonly mediaType: string; readonly size: number; readonly tags?: readonly string[] }[];
  /** Blobs the next garbage collection frees: the journals must forget them. */
  readonly blobs: readonly Digest[];
}

export async function readPending(path: string): Promise<PendingPrune | undefined> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<PendingPrune>;
    return doc.version === 1 && Array.isArray(doc.manifests) && Array.isArray(doc.blobs) ? doc as PendingPrune : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Delete each manifest of a written-down prune that is still there, indexes first, each audited.
 * (The caller makes the journals forget them first: forgetting only makes a re-import ask again.)
 */
export async function deletePrunedManifests(
  pending: PendingPrune,
  ctx: { client: RegistryClient; auditPath: string; registry: string; signal?: AbortSignal | undefined },
): Promise<number> {
  const call = ctx.signal ? { signal: ctx.signal } : {};
  const audit = new AuditLog(ctx.auditPath, { registry: ctx.registry });
  let deleted = 0;
  for (const m of pending.manifests) {
    const repo = ctx.client.repository(m.repository);
    const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    if (!(await repo.exists(desc, call))) continue;
    if (!(await repo.delete(desc, call))) {
      await audit.write({ action: 'delete', repository: m.repository, digest: m.digest, result: 'error', detail: 'the registry refused the delete' });
      throw new AirlockError('REGISTRY', `${ctx.registry} refused to delete ${m.repository}@${m.digest}`, {
        where: `${ctx.registry}/${m.repository}`,
        hint: 'enable deletes in the registry (Distribution: storage.delete.enabled, or REGISTRY_STORAGE_DELETE_ENABLED=true) and use an account allowed to delete; re-run prune --apply',
      });
    }
    deleted++;
    await audit.write({ action: 'delete', repository: m.repository, digest: m.digest, ...(m.tags && m.tags.length > 0 ? { detail: `tags ${m.tags.join(', ')}` } : {}), result: 'ok' });
  }
  await audit.flush();
  return deleted;
}
