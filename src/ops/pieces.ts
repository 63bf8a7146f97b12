/**
 * Blobs cut into pieces (split bundles) when the volumes are imported by several processes at
 * once, on several hosts, each with its own state dir: the pieces of one blob arrive in different
 * processes, whose spools never meet. The target registry is the one place they all share, so a
 * piece whose blob is not whole yet is parked there as a blob of its own (its digest is the
 * piece's sha256, which airlock.json records), in the first target repository that needs the
 * blob. Whoever then finds every piece (in its own spool or parked) assembles the blob, verifies
 * it against its digest, and pushes it into every repository that needs it.
 *
 * Order matters, and is what makes "the last one to finish tags" hold: every process parks all of
 * its pieces before it looks for the others'. The process whose parking ends last therefore sees
 * every piece, and assembles whatever no one else has.
 *
 * Parked pieces are unreferenced blobs: Distribution's `garbage-collect` removes them.
 */
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { verifyStream } from '../content/index.js';
import type { Journal, RootTarget } from '../copy/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import type { RegistryRepository } from '../registry/index.js';
import type { AirlockManifest, BlobPiece, BundleBlob } from '../bundle/index.js';
import { forEachConcurrent } from '../util/index.js';
import type { Logger } from '../log.js';
import type { BundlePlan } from './bundle-plan.js';

export interface ShareCutBlobsOptions {
  readonly manifest: AirlockManifest;
  readonly plan: BundlePlan;
  readonly targets: readonly RootTarget[];
  /** Only these blobs (the cut ones the waiting roots lack). */
  readonly wanted: ReadonlySet<Digest>;
  readonly repoFor: (path: string) => RegistryRepository;
  /** Where this process spooled the pieces its volumes carried. */
  readonly spoolDir: string;
  readonly concurrency: number;
  readonly logger?: Logger;
  readonly journal?: Journal;
  readonly signal?: AbortSignal;
}

export interface ShareCutBlobsReport {
  /** Pieces this process parked in the target. */
  readonly piecesParked: number;
  /** Pieces read back from the target (parked by another process). */
  readonly piecesFetched: number;
  /** Whole blobs this process assembled and pushed (or mounted) into a repository. */
  readonly blobsAssembled: number;
  readonly bytesPushed: number;
}

/** The spool file of one piece (shared with import.ts's reassembly). */
export function pieceFile(spoolDir: string, digest: Digest, offset: number): string {
  return join(spoolDir, `${digest.slice(7)}.${offset}`);
}

/** Park this process's pieces in the target, then assemble every wanted blob whose pieces are all somewhere. */
export async function shareCutBlobs(o: ShareCutBlobsOptions): Promise<ShareCutBlobsReport> {
  const call = o.signal ? { signal: o.signal } : {};
  const report = { piecesParked: 0, piecesFetched: 0, blobsAssembled: 0, bytesPushed: 0 };
  const blobs: { blob: BundleBlob; repos: string[]; lacking: string[]; local: Set<number> }[] = [];
  for (const b of o.manifest.blobs) {
    if (!b.pieces || !o.wanted.has(b.digest)) continue;
    const repos = [...new Set(o.targets.filter((t) => o.plan.closureOf(t.root).includes(b.digest)).map((t) => t.repository))];
    if (repos.length > 0) blobs.push({ blob: b, repos, lacking: [], local: new Set() });
  }
  const descOf = (b: BundleBlob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const pieceDesc = (b: BundleBlob, p: BlobPiece): Descriptor => ({ mediaType: b.mediaType, digest: p.digest, size: p.size });
  // The spool is a hint, as in import.ts: a piece whose bytes no longer match its digest is
  // removed and counts as absent (its volume is to be imported again), instead of failing the run.
  const isLocal = async (b: BundleBlob, p: BlobPiece): Promise<boolean> => {
    const file = pieceFile(o.spoolDir, b.digest, p.offset);
    if ((await stat(file).catch(() => undefined))?.size !== p.size) return false;
    if ((await sha256OfFile(file)) === p.digest) return true;
    o.logger?.warn(`the piece at ${p.offset} of blob ${b.digest} kept from an earlier run (volume ${p.volume}) is damaged: removed; import volume ${p.volume} again`);
    await rm(file, { force: true });
    return false;
  };

  // 1. Which repositories still lack each blob; park every local piece of those (all parking first).
  await forEachConcurrent(blobs, o.concurrency, async (e) => {
    const holders: string[] = [];
    for (const r of e.repos) {
      if (await o.repoFor(r).exists(descOf(e.blob), call)) holders.push(r);
      else e.lacking.push(r);
    }
    // Another process assembled it into one repository already: mount it into the rest.
    if (holders.length > 0 && e.lacking.length > 0) {
      const still: string[] = [];
      for (const r of e.lacking) {
        if (await o.repoFor(r).mount(descOf(e.blob), holders[0]!, call)) await o.journal?.record(`blob ${r} ${e.blob.digest}`, { action: 'mount', repository: r, from: holders[0], digest: e.blob.digest });
        else still.push(r);
      }
      e.lacking = still;
    }
    if (e.lacking.length === 0) return;
    const park = o.repoFor(e.repos[0]!);
    for (const p of e.blob.pieces!) {
      if (!(await isLocal(e.blob, p))) continue;
      e.local.add(p.offset);
      const desc = pieceDesc(e.blob, p);
      if (await park.exists(desc, call)) continue;
      const body = createReadStream(pieceFile(o.spoolDir, e.blob.digest, p.offset), { highWaterMark: 1 << 20 });
      const verified = body.pipe(verifyStream(desc, { where: `spooled piece at ${p.offset} of blob ${e.blob.digest}` }));
      body.on('error', (err) => verified.destroy(err));
      await park.push(desc, verified, call);
      report.piecesParked++;
    }
  }, o.signal);

  // 2. Only now look for the other processes' pieces; assemble what is complete.
  await forEachConcurrent(blobs.filter((e) => e.lacking.length > 0), o.concurrency, async (e) => {
    const park = o.repoFor(e.repos[0]!);
    const pieces = [...e.blob.pieces!].sort((a, b) => a.offset - b.offset);
    for (const p of pieces) {
      if (!e.local.has(p.offset) && !(await park.exists(pieceDesc(e.blob, p), call))) return; // not all parked yet: whoever parks last assembles
    }
    const fetched = { n: 0 };
    const body = (): Readable => Readable.from((async function* () {
      for (const p of pieces) {
        const desc = pieceDesc(e.blob, p);
        const raw: Readable = e.local.has(p.offset)
          ? createReadStream(pieceFile(o.spoolDir, e.blob.digest, p.offset), { highWaterMark: 1 << 20 })
          : (fetched.n++, await park.fetch(desc, call));
        const verified = raw.pipe(verifyStream(desc, { where: `piece at ${p.offset} of blob ${e.blob.digest}` }));
        raw.on('error', (err: Error) => verified.destroy(err));
        for await (const chunk of verified) yield chunk as Buffer;
      }
    })());
    const desc = descOf(e.blob);
    const push = async (repo: string): Promise<void> => {
      const b = body();
      const verified = b.pipe(verifyStream(desc, { where: `blob ${e.blob.digest} assembled from its pieces` }));
      b.on('error', (err) => verified.destroy(err));
      await o.repoFor(repo).push(desc, verified, call);
      report.bytesPushed += desc.size;
      await o.journal?.record(`blob ${repo} ${desc.digest}`, { action: 'push', repository: repo, digest: desc.digest });
    };
    const [first, ...others] = e.lacking;
    await push(first!);
    for (const r of others) {
      if (await o.repoFor(r).mount(desc, first!, call)) {
        await o.journal?.record(`blob ${r} ${desc.digest}`, { action: 'mount', repository: r, from: first, digest: desc.digest });
      } else await push(r);
    }
    report.blobsAssembled++;
    report.piecesFetched += fetched.n;
  }, o.signal);
  return report;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
