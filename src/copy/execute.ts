import { Readable } from 'node:stream';
import { AirlockError, isAirlockError } from '../errors.js';
import { canCheckTags, canFetch, canMount, canTakeChecked, canTakePieces, verifyBody, verifyHashed, type BlobPieceRef, type CheckingSink, type ContentSink, type PieceSink } from '../content/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { forEachConcurrent, Semaphore } from '../util/index.js';
import { closure } from './walk.js';
import { ByteBudget, ReadAhead } from './read-ahead.js';
import { journalKey as key, tagJournalKey as tagKey } from './journal.js';
import type { CopyEvent, CopyPlan, Journal, PendingWrites, PlannedRoot, RootTarget, SequentialBlob } from './types.js';

/**
 * Sequential supply: bytes read ahead of the uploads (read-ahead.ts), across all of them.
 * Measured on the large bundle into Distribution (import wall s / peak RSS MiB): none 7.3–7.5 /
 * 175–193; 32 MiB 6.7–7.0 / 193–216; 48 MiB 6.5–6.7 / 208–214; 64 MiB 6.5 / 250.
 */
const READ_AHEAD_BYTES = 48 << 20;

/** Where blob bytes come from: any digest on demand, or front to back in entry order. */
export type BlobSupply =
  | { readonly kind: 'random'; fetch(desc: Descriptor, signal?: AbortSignal): Promise<Readable> }
  | { readonly kind: 'sequential'; readonly blobs: AsyncIterable<SuppliedBlob> };

/** One entry of a sequential supply: a blob, or one piece of a blob cut across volumes. */
export interface SuppliedBlob extends SequentialBlob {
  /** Names the entry in errors (the file and the entry it came from). Default: describeBlob. */
  readonly where?: string;
  /**
   * The entry is this piece of `desc`: its bytes are checked against the piece's own digest and
   * size and handed to the first sink lacking `desc` that takes pieces (PieceSink, e.g. verify's
   * DiscardSink); with none, the entry is read past. The blob itself becomes present only when
   * supplied whole (import assembles the pieces before they reach the engine).
   */
  readonly piece?: BlobPieceRef;
  /**
   * The entry's bytes can be hashed where they lie (file ranges hashed by a worker pool) instead of
   * passing through this thread: used when the one sink to get them only checks bytes
   * (CheckingSink, verify's DiscardSink), whose push then waits for this hash and the same checks
   * as verifyStream's (size, digest, `where` in the error). The body is then destroyed unread, and
   * the next entry is taken at once: up to `concurrency` entries are hashed together.
   */
  readonly hashInPlace?: (opts: InPlaceHashOptions) => Promise<{ readonly hex: string; readonly bytes: number }>;
}

export interface InPlaceHashOptions {
  readonly signal?: AbortSignal;
  /** Bytes hashed since the last call. */
  readonly onProgress: (bytes: number) => void;
}

export interface ExecuteOptions {
  /** Parallel transfers. Default 8 (README "Import": `--concurrency`). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: CopyEvent) => void;
  readonly journal?: Journal;
  /** Extra bytes held in memory by digest (manifests are in the plan; configs from a bundle front). */
  readonly memory?: ReadonlyMap<Digest, Buffer>;
  /** Retries of a whole blob transfer for random-access supplies. Default 2. */
  readonly retries?: number;
  /** Names a blob in errors: which artifact needs it. */
  readonly describeBlob?: (digest: Digest) => string;
  /** Check what the sinks hold and report what would be pushed; push nothing. */
  readonly dryRun?: boolean;
  /**
   * Sequential supplies: when no blob is missing before reading starts, do not read the layers
   * at all (a no-op re-import skips the pass over every layer: 4.6 → 1.3 s on the large profile). Only for supplies whose
   * iteration has no side effects of its own (e.g. not while files are delivered as they pass).
   * Default false: read to the end.
   */
  readonly stopWhenComplete?: boolean;
  /**
   * The sinks may hold a manifest without the blobs below it (the download cache, whose layers
   * may live in a bundle that has since moved): a present root does not stand for its graph, and
   * every blob is asked for. Default false: a registry refuses a manifest whose blobs it lacks.
   */
  readonly checkEveryBlob?: boolean;
  /**
   * Called once, after the sinks were asked what they hold and before the first write, when there
   * is anything to write: a rejection stops the run with nothing written (import's preflight).
   */
  readonly beforeWrite?: (pending: PendingWrites) => Promise<void>;
  /**
   * Called just before a tag is moved onto a root whose content is all there (tags last), when the
   * tag was not found pointing at it: a caller can record (and keep) where the tag pointed before.
   */
  readonly beforeTag?: (target: RootTarget, tag: string) => Promise<void>;
}

export interface ExecuteReport {
  readonly blobsPushed: number;
  readonly bytesPushed: number;
  readonly blobsMounted: number;
  readonly blobsSkipped: number;
  /** (repository, blob) pairs the sinks held already. */
  readonly blobsExisting: number;
  readonly manifestsPushed: number;
  readonly tagsSet: number;
  readonly completed: readonly RootTarget[];
  /** Roots whose content is not all present yet (volumes still to come), with the missing digests. */
  readonly waiting: readonly { readonly target: RootTarget; readonly missing: readonly Digest[] }[];
  /** Targets whose root manifest the sink held before this run. */
  readonly present: readonly RootTarget[];
  /** Dry run: per repository, the blobs (digest, size) it lacks. */
  readonly toPush: readonly { readonly repository: string; readonly digest: Digest; readonly size: number }[];
}

interface RepoState {
  readonly repository: string;
  readonly sink: ContentSink;
  readonly present: Set<Digest>;
}


/**
 * The copy engine's apply half: make every target root's graph present in its sink, children
 * before parents, blobs once per repository (mounted across repositories of one registry), and
 * tags last. A root whose content is not all present (blobs from other volumes still missing)
 * is neither pushed nor tagged.
 */
export async function executeCopy(plan: CopyPlan, supplied: BlobSupply | (() => Promise<BlobSupply>), targets: readonly RootTarget[], opts: ExecuteOptions = {}): Promise<ExecuteReport> {
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const emit = opts.onEvent ?? (() => {});
  const signal = opts.signal;
  const journal = opts.journal;
  const counters = { blobsPushed: 0, bytesPushed: 0, blobsMounted: 0, blobsSkipped: 0, blobsExisting: 0, manifestsPushed: 0, tagsSet: 0 };
  const present: RootTarget[] = [];

  // Per target repository: the sink and what it must hold.
  const repos = new Map<string, RepoState>();
  const closures = new Map<RootTarget, Digest[]>();
  for (const t of targets) {
    if (!repos.has(t.repository)) repos.set(t.repository, { repository: t.repository, sink: t.sink, present: new Set() });
    closures.set(t, closure(plan.nodes, t.root.desc.digest));
  }
  const needed = new Map<string, Set<Digest>>();
  for (const t of targets) {
    let s = needed.get(t.repository);
    if (!s) needed.set(t.repository, (s = new Set()));
    for (const d of closures.get(t)!) s.add(d);
  }
  const isManifest = (d: Digest): boolean => plan.nodes.get(d)?.bytes !== undefined;

  // 1. What is there already: journal first (no request), then the registry. A manifest that
  // exists proves its whole graph exists (registries refuse a manifest whose children are
  // missing), so one HEAD per root usually answers for hundreds of blobs.
  const checks: { repo: RepoState; digest: Digest }[] = [];
  for (const [repoName, digests] of needed) {
    const repo = repos.get(repoName)!;
    for (const d of digests) {
      if (journal?.has(key(isManifest(d) ? 'manifest' : 'blob', repoName, d))) repo.present.add(d);
    }
  }
  const markClosure = (repo: RepoState, d: Digest): void => {
    if (opts.checkEveryBlob) repo.present.add(d);
    else for (const c of closure(plan.nodes, d)) repo.present.add(c);
  };
  // An index the target holds does not prove its child manifests are there: Distribution's
  // `garbage-collect --delete-untagged` deletes the (untagged) children of a tagged index and keeps
  // the index. So each child manifest is asked for (a few HEADs per index); an image manifest the
  // target holds does prove its blobs (a registry refuses a manifest whose blobs it lacks, and its
  // garbage collector keeps what a manifest refers to).
  const markFound = async (repo: RepoState, d: Digest): Promise<void> => {
    const kids = opts.checkEveryBlob ? [] : (plan.nodes.get(d)?.children ?? []).filter(isManifest);
    if (kids.length === 0) {
      markClosure(repo, d);
      return;
    }
    repo.present.add(d);
    await Promise.all(kids.map(async (k) => {
      if (repo.present.has(k) || (await repo.sink.exists(plan.nodes.get(k)!.desc, signal ? { signal } : {}))) await markFound(repo, k);
    }));
  };
  // A tagged root asks for its tag first: a tag that points at the root proves the root's graph
  // is there and that the tag need not move, so a no-op run sends one request per root.
  const tagState = new Map<RootTarget, 'there' | 'elsewhere'>();
  await forEachConcurrent(targets, concurrency, async (t) => {
    const repo = repos.get(t.repository)!;
    const d = t.root.desc.digest;
    const tag = t.root.tag;
    const call = signal ? { signal } : {};
    if (!repo.present.has(d) && tag !== undefined && canCheckTags(repo.sink) && !journal?.has(tagKey(repo.repository, tag, d))) {
      const there = await repo.sink.tagPointsAt(t.root.desc, tag, call);
      tagState.set(t, there ? 'there' : 'elsewhere');
      if (there) {
        await markFound(repo, d);
        present.push(t);
        return;
      }
    }
    if (repo.present.has(d)) {
      markClosure(repo, d);
      present.push(t);
    } else if (await repo.sink.exists(t.root.desc, call)) {
      await markFound(repo, d);
      present.push(t);
    }
  }, signal);
  for (const [repoName, digests] of needed) {
    const repo = repos.get(repoName)!;
    for (const d of digests) if (!repo.present.has(d)) checks.push({ repo, digest: d });
  }
  await forEachConcurrent(checks, concurrency, async ({ repo, digest }) => {
    const node = plan.nodes.get(digest);
    if (!node) return;
    if (await repo.sink.exists(node.desc, signal ? { signal } : {})) {
      repo.present.add(digest);
      counters.blobsExisting++;
      emit({ type: 'blob-done', digest, size: node.desc.size, how: 'exists', repository: repo.repository });
    }
  }, signal);

  // 2. Blobs: which repositories lack each blob.
  const missingBlobs = new Map<Digest, RepoState[]>();
  for (const [repoName, digests] of needed) {
    const repo = repos.get(repoName)!;
    for (const d of digests) {
      if (repo.present.has(d) || isManifest(d)) continue;
      const list = missingBlobs.get(d);
      if (list) list.push(repo);
      else missingBlobs.set(d, [repo]);
    }
  }

  if (opts.dryRun) {
    const toPush = [...missingBlobs].flatMap(([d, rs]) => rs.map((r) => ({ repository: r.repository, digest: d, size: plan.nodes.get(d)!.desc.size })));
    return { ...counters, completed: [], waiting: [], present, toPush };
  }
  if (opts.beforeWrite) {
    const pending = pendingWrites(targets, repos, closures, missingBlobs, tagState, plan, journal);
    if (pending.repositories.length > 0) await opts.beforeWrite(pending);
  }

  const describe = (d: Digest): string => opts.describeBlob?.(d) ?? `blob ${d}`;
  const verifying = (body: Readable, checked: Pick<Descriptor, 'digest' | 'size'>, where: string): Readable =>
    verifyBody(body, checked, { where, onProgress: (n) => emit({ type: 'bytes', bytes: n }) });
  const pushOne = async (repo: RepoState, desc: Descriptor, body: Readable, where = describe(desc.digest)): Promise<void> => {
    emit({ type: 'blob-start', digest: desc.digest, size: desc.size });
    await repo.sink.push(desc, verifying(body, desc, where), signal ? { signal } : {});
    repo.present.add(desc.digest);
    counters.blobsPushed++;
    counters.bytesPushed += desc.size;
    await journal?.record(key('blob', repo.repository, desc.digest), { action: 'push', repository: repo.repository, digest: desc.digest });
    emit({ type: 'blob-done', digest: desc.digest, size: desc.size, how: 'copied', repository: repo.repository });
  };
  /** After the first repository has the blob: mount it into the others (or report they still lack it). */
  const spread = async (first: RepoState, others: readonly RepoState[], desc: Descriptor, refetch?: () => Promise<Readable>): Promise<void> => {
    for (const repo of others) {
      if (canMount(repo.sink) && (await repo.sink.mount(desc, first.repository, signal ? { signal } : {}))) {
        repo.present.add(desc.digest);
        counters.blobsMounted++;
        await journal?.record(key('blob', repo.repository, desc.digest), { action: 'mount', repository: repo.repository, from: first.repository, digest: desc.digest });
        emit({ type: 'blob-done', digest: desc.digest, size: desc.size, how: 'mounted', repository: repo.repository });
      } else if (refetch) {
        await pushOne(repo, desc, await refetch());
      }
      // No mount and nothing to read the blob from again: the repository stays without the blob;
      // its roots wait and a re-run (which reads the bundle again) pushes it.
    }
  };

  const fromMemory = (d: Digest): Buffer | undefined => plan.nodes.get(d)?.bytes ?? opts.memory?.get(d);
  const inMemory = [...missingBlobs.keys()].filter((d) => fromMemory(d) !== undefined);
  await forEachConcurrent(inMemory, concurrency, async (d) => {
    const repos_ = missingBlobs.get(d)!;
    const desc = plan.nodes.get(d)!.desc;
    const bytes = fromMemory(d)!;
    const [first, ...others] = repos_;
    await pushOne(first!, desc, Readable.from([bytes]));
    await spread(first!, others, desc, async () => Readable.from([bytes]));
    missingBlobs.delete(d);
  }, signal);

  // A supply given as a function is opened only when it is to be read (not by a no-op run).
  const stop = opts.stopWhenComplete === true;
  const supply = typeof supplied !== 'function' ? supplied : stop && missingBlobs.size === 0 ? undefined : await supplied();
  if (supply?.kind === 'random') {
    const retries = opts.retries ?? 2;
    await forEachConcurrent([...missingBlobs.keys()], concurrency, async (d) => {
      const desc = plan.nodes.get(d)!.desc;
      const [first, ...others] = missingBlobs.get(d)!;
      for (let attempt = 0; ; attempt++) {
        try {
          await pushOne(first!, desc, await supply.fetch(desc, signal));
          break;
        } catch (err) {
          if (attempt >= retries || signal?.aborted || !isRetryable(err)) throw err;
          emit({ type: 'warning', message: `retrying ${describe(d)}: ${(err as Error).message}` });
        }
      }
      await spread(first!, others, desc, () => supply.fetch(desc, signal));
    }, signal);
  } else if (supply) {
    const background = new Semaphore(concurrency);
    const budget = new ByteBudget(READ_AHEAD_BYTES);
    const pending = new Set<Promise<void>>();
    let backgroundError: unknown;
    /** A whole blob: to the first repository that lacks it, then mounted into (or read back for) the others. */
    const sendWhole = (desc: Descriptor, where: string | undefined): ((body: Readable) => Promise<void>) | undefined => {
      const lacking = missingBlobs.get(desc.digest);
      if (!lacking || lacking.length === 0) return undefined;
      missingBlobs.delete(desc.digest);
      const [first, ...others] = lacking;
      return async (body) => {
        await pushOne(first!, desc, body, where);
        // The entry cannot be read again: where a mount is refused (Nexus answers every mount with
        // a plain upload session, spec "Mounting a blob from another repository": 202), the blob is
        // read back from the repository that now holds it, verified again on its way.
        const sink = first!.sink;
        if (others.length > 0) await spread(first!, others, desc, canFetch(sink) ? () => sink.fetch(desc, signal ? { signal } : {}) : undefined);
      };
    };
    /** A piece: checked against its own digest, to the first sink lacking its blob that takes pieces. */
    const sendPiece = (desc: Descriptor, piece: BlobPieceRef, where: string | undefined): ((body: Readable) => Promise<void>) | undefined => {
      const sink = missingBlobs.get(desc.digest)?.map((r) => r.sink).find((k): k is ContentSink & PieceSink => canTakePieces(k));
      if (!sink) return undefined;
      return async (body) => {
        emit({ type: 'blob-start', digest: desc.digest, size: piece.size });
        await sink.pushPiece(desc, piece, verifying(body, piece, where ?? `piece at ${piece.offset} of ${describe(desc.digest)}`), signal ? { signal } : {});
        emit({ type: 'blob-done', digest: desc.digest, size: piece.size, how: 'copied' });
      };
    };
    /** Bytes hashed elsewhere, checked as verifyStream would check them passing through. */
    const checkInPlace = async (hash: NonNullable<SuppliedBlob['hashInPlace']>, checked: Pick<Descriptor, 'digest' | 'size'>, where: string): Promise<void> => {
      const r = await hash({ ...(signal ? { signal } : {}), onProgress: (n) => emit({ type: 'bytes', bytes: n }) });
      verifyHashed(checked, r, { where });
    };
    /** A whole blob or a piece hashed in place, when the one sink lacking it only checks bytes; else undefined (read the body). */
    const sendInPlace = (desc: Descriptor, piece: BlobPieceRef | undefined, where: string | undefined, hash: NonNullable<SuppliedBlob['hashInPlace']>): (() => Promise<void>) | undefined => {
      const lacking = missingBlobs.get(desc.digest);
      if (!lacking || lacking.length !== 1) return undefined;
      const repo = lacking[0]!;
      const sink = repo.sink;
      if (!canTakeChecked(sink) || !sink.takesChecked(desc)) return undefined;
      if (piece) {
        if (!canTakePieces(sink)) return undefined;
        return async () => {
          emit({ type: 'blob-start', digest: desc.digest, size: piece.size });
          await (sink as ContentSink & CheckingSink).pushPieceChecked(desc, piece, checkInPlace(hash, piece, where ?? `piece at ${piece.offset} of ${describe(desc.digest)}`));
          emit({ type: 'blob-done', digest: desc.digest, size: piece.size, how: 'copied' });
        };
      }
      missingBlobs.delete(desc.digest);
      return async () => {
        emit({ type: 'blob-start', digest: desc.digest, size: desc.size });
        await (sink as ContentSink & CheckingSink).pushChecked(desc, checkInPlace(hash, desc, where ?? describe(desc.digest)));
        repo.present.add(desc.digest);
        counters.blobsPushed++;
        counters.bytesPushed += desc.size;
        await journal?.record(key('blob', repo.repository, desc.digest), { action: 'push', repository: repo.repository, digest: desc.digest });
        emit({ type: 'blob-done', digest: desc.digest, size: desc.size, how: 'copied', repository: repo.repository });
      };
    };
    // stopWhenComplete: when nothing is missing at all, do not read the layers. A run that pushes
    // anything reads to the end, so a damaged or hostile tail (a duplicate entry, an unlisted
    // one) is still found and reported.
    for await (const { desc, body, where, piece, hashInPlace } of stop && missingBlobs.size === 0 ? [] : supply.blobs) {
      signal?.throwIfAborted();
      if (backgroundError) throw backgroundError;
      const inPlace = hashInPlace ? sendInPlace(desc, piece, where, hashInPlace) : undefined;
      if (inPlace) {
        body.destroy();
        const release = await background.acquire();
        const p: Promise<void> = inPlace()
          .catch((err: unknown) => {
            backgroundError ??= err;
          })
          .finally(() => {
            release();
            pending.delete(p);
          });
        pending.add(p);
        continue;
      }
      const send = piece ? sendPiece(desc, piece, where) : sendWhole(desc, where);
      if (!send && hashInPlace) {
        // Nobody needs it: nothing to read past.
        body.destroy();
        counters.blobsSkipped++;
        continue;
      }
      if (!send) {
        // Nobody needs it (already present, or not part of any root): read past it.
        body.resume();
        await new Promise<void>((resolve, reject) => {
          body.once('end', resolve);
          body.once('error', reject);
          if (body.readableEnded) resolve();
        });
        counters.blobsSkipped++;
        continue;
      }
      // Pipelined, bounded by `concurrency`: move on to the next entry as soon as this body has
      // been read (all its bytes are with the sink), not when the registry has answered. The
      // registry's finishing work (Distribution re-reads and moves each upload) then overlaps
      // the reading of the next blob instead of stalling the one sequential stream.
      const release = await background.acquire();
      let bodyRead!: () => void;
      const read = new Promise<void>((resolve) => {
        bodyRead = resolve;
      });
      body.once('end', bodyRead);
      body.once('close', bodyRead);
      body.once('error', bodyRead);
      const ahead = new ReadAhead(body, budget);
      const p: Promise<void> = send(ahead)
        .catch((err: unknown) => {
          backgroundError ??= err;
        })
        .finally(() => {
          ahead.destroy();
          release();
          pending.delete(p);
          bodyRead();
        });
      pending.add(p);
      await read;
    }
    await Promise.all(pending);
    if (backgroundError) throw backgroundError;
  }

  // 3. Manifests, children first; a root only when all of its graph is present. Referrers after
  // everything else so their subjects exist first.
  const ordered = [...targets].sort((a, b) => Number(a.root.kind === 'referrer') - Number(b.root.kind === 'referrer'));
  const completed: RootTarget[] = [];
  const waiting: { target: RootTarget; missing: Digest[] }[] = [];
  for (const t of ordered) {
    const repo = repos.get(t.repository)!;
    const all = closures.get(t)!;
    const missing = all.filter((d) => !repo.present.has(d) && !isManifest(d));
    const subjectMissing = t.root.subject !== undefined && needsSubject(t.root) && !repo.present.has(t.root.subject) &&
      targets.some((o) => o !== t && o.root.desc.digest === t.root.subject && o.repository === t.repository);
    if (missing.length > 0 || subjectMissing) {
      waiting.push({ target: t, missing });
      emit({ type: 'root-waiting', root: t.root, missing: missing.length });
      continue;
    }
    for (const d of all) {
      const node = plan.nodes.get(d);
      if (!node?.bytes || repo.present.has(d)) continue;
      await repo.sink.push(node.desc, Readable.from([node.bytes]), signal ? { signal } : {});
      repo.present.add(d);
      counters.manifestsPushed++;
      await journal?.record(key('manifest', repo.repository, d), { action: 'push-manifest', repository: repo.repository, digest: d });
      emit({ type: 'manifest-done', digest: d, repository: repo.repository, how: 'pushed' });
    }
    completed.push(t);
  }

  // 4. Tags last (all content first; the tags themselves in parallel).
  await forEachConcurrent(completed, concurrency, async (t) => {
    const tag = t.root.tag;
    if (tag !== undefined) {
      const repo = repos.get(t.repository)!;
      const k = tagKey(repo.repository, tag, t.root.desc.digest);
      const state = tagState.get(t);
      if (!journal?.has(k) && state !== 'there') {
        await opts.beforeTag?.(t, tag);
        await repo.sink.tag(t.root.desc, tag, { ...(signal ? { signal } : {}), ...(state ? { known: state } : {}) });
        counters.tagsSet++;
        await journal?.record(k, { action: 'tag', repository: repo.repository, tag, digest: t.root.desc.digest });
      }
      emit({ type: 'tag-done', repository: repo.repository, tag, digest: t.root.desc.digest });
    }
    emit({ type: 'root-done', root: t.root, target: t.repository });
  }, signal);

  return { ...counters, completed, waiting, present, toPush: [] };
}

/** What the run will write (ExecuteOptions.beforeWrite), from what the sinks were found to hold. */
function pendingWrites(
  targets: readonly RootTarget[], repos: ReadonlyMap<string, RepoState>, closures: ReadonlyMap<RootTarget, Digest[]>,
  missingBlobs: ReadonlyMap<Digest, readonly RepoState[]>, tagState: ReadonlyMap<RootTarget, 'there' | 'elsewhere'>, plan: CopyPlan, journal: Journal | undefined,
): PendingWrites {
  const writes = new Set<string>();
  for (const rs of missingBlobs.values()) for (const r of rs) writes.add(r.repository);
  const manifests = new Map<string, { repository: string; desc: Descriptor; roots: PlannedRoot[] }>();
  for (const t of targets) {
    const repo = repos.get(t.repository)!;
    for (const d of closures.get(t)!) {
      const node = plan.nodes.get(d);
      if (!node?.bytes || repo.present.has(d)) continue;
      const k = `${t.repository} ${d}`;
      const m = manifests.get(k);
      if (m) m.roots.push(t.root);
      else manifests.set(k, { repository: t.repository, desc: node.desc, roots: [t.root] });
      writes.add(t.repository);
    }
    const tag = t.root.tag;
    if (tag !== undefined && tagState.get(t) !== 'there' && !journal?.has(tagKey(t.repository, tag, t.root.desc.digest))) writes.add(t.repository);
  }
  const order = [...new Set(targets.map((t) => t.repository))];
  return { repositories: order.filter((r) => writes.has(r)), manifests: [...manifests.values()] };
}

function needsSubject(root: PlannedRoot): boolean {
  return root.kind === 'referrer';
}

function isRetryable(err: unknown): boolean {
  if (!isAirlockError(err)) return true;
  const e = err as AirlockError & { retryable?: boolean };
  if (typeof e.retryable === 'boolean') return e.retryable;
  return e.code === 'NETWORK' || e.code === 'SIZE_MISMATCH' || e.code === 'DIGEST_MISMATCH' || e.code === 'REGISTRY';
}
