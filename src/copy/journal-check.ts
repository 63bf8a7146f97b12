import type { ContentSink, TagChecker } from '../content/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { forEachConcurrent } from '../util/index.js';
import { parseJournalKey, type FileJournal, type JournalStep } from './journal.js';

/**
 * How many of the journal's claims a run checks before it trusts the rest: every tag up to
 * `tags` (one HEAD each, what a run without a journal asks per root anyway), every untagged
 * manifest up to `untagged` (what a garbage collection deletes), and a few more manifests and
 * blobs picked at random. A registry wiped, reinstalled at the same host:port or restored from
 * an older backup fails nearly every claim, so a handful finds it; a loss the sample misses
 * (one repository deleted) is found by the registry itself when a push needs what it lost
 * (ops/import.ts isStaleClaimError), and the run then checks everything again.
 */
const SAMPLE = { tags: 32, manifests: 8, blobs: 8, untagged: 64 } as const;

export interface JournalCheckOptions {
  readonly journal: FileJournal;
  /** The descriptor of a digest the bundle carries (or relies on), for the HEAD. */
  readonly descriptorOf: (digest: Digest) => Descriptor | undefined;
  /** The target repository a claim names: asked whether it holds a blob or manifest, or where a tag points. */
  readonly repoFor: (path: string) => Pick<ContentSink, 'exists'> & TagChecker;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
}

function pick<T>(items: readonly T[], n: number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

/**
 * Ask the target about a sample of what the journal says earlier runs did. Returns a description
 * of the first claim the target does not bear out (the journal is then not to be trusted at all),
 * or undefined when every sampled claim holds.
 */
export async function findStaleClaim(o: JournalCheckOptions): Promise<string | undefined> {
  const claims = [...o.journal.keys()].map(parseJournalKey).filter((c): c is JournalStep => c !== undefined && o.descriptorOf(c.digest) !== undefined);
  // Untagged manifests (the children of an index, referrers listed by a fallback index) first:
  // Distribution's `garbage-collect --delete-untagged`, a routine clean-up, deletes exactly those
  // and nothing a tag names, and nothing later in the run would notice (the index and its tag are
  // still there, so no push is refused). Up to `untagged` of them are always asked; the random
  // share of the other manifests comes on top.
  const tagged = new Set(claims.filter((c) => c.kind === 'tag').map((c) => `${c.repository}@${c.digest}`));
  const manifests = claims.filter((c) => c.kind === 'manifest');
  const untagged = manifests.filter((c) => !tagged.has(`${c.repository}@${c.digest}`));
  const firstUntagged = pick(untagged, SAMPLE.untagged);
  const asked = new Set(firstUntagged);
  const sample = [
    ...pick(claims.filter((c) => c.kind === 'tag'), SAMPLE.tags),
    ...firstUntagged,
    ...pick(manifests.filter((c) => !asked.has(c)), SAMPLE.manifests),
    ...pick(claims.filter((c) => c.kind === 'blob'), SAMPLE.blobs),
  ];
  let stale: string | undefined;
  const call = o.signal ? { signal: o.signal } : {};
  await forEachConcurrent(sample, o.concurrency, async (c) => {
    if (stale) return;
    const desc = o.descriptorOf(c.digest)!;
    const repo = o.repoFor(c.repository);
    const holds = c.tag !== undefined ? await repo.tagPointsAt(desc, c.tag, call) : await repo.exists(desc, call);
    if (!holds) stale ??= c.tag !== undefined ? `${c.repository}:${c.tag} → ${c.digest}` : `${c.kind} ${c.digest} in ${c.repository}`;
  }, o.signal);
  return stale;
}
