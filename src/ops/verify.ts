import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AirlockError, MultiError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { DiscardSink } from '../content/index.js';
import { RangeHasherPool, type RangeHash } from '../archive/index.js';
import { closure, executeCopy, planCopy, type CopyEvent, type PlanNode, type PlannedRoot, type RootTarget, type SuppliedBlob, type InPlaceHashOptions } from '../copy/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { blobEntryName, bundleLabel, openBundle, pieceEntryName, type AirlockManifest, type EntryInPlace } from '../bundle/index.js';
import { verifyBundleManifest, type SignaturePolicy, type SignatureStatus } from '../signing/index.js';
import { buildBundlePlan } from './bundle-plan.js';
import { reverifyUpstream } from '../signing/index.js';
import { checkCarriedTool, type ToolCheck } from '../bundle/index.js';
import { recheckReleaseFiles } from '../files/index.js';
import { planDeliveries, type Delivery } from '../files/index.js';

/**
 * Entries in flight in the copy engine: enough to queue every layer of a usual bundle with the
 * hashing pool at once (it picks the largest first). Streamed entries are still read one at a
 * time, their bytes bounded by the engine's read-ahead.
 */
const IN_PLACE_QUEUE = 256;

export interface VerifyOptions {
  readonly bundles: readonly string[];
  readonly signature: SignaturePolicy;
  /** Also re-check the vendor signatures recorded at export. */
  readonly upstream?: boolean;
  readonly logger?: Logger;
  readonly onEvent?: (e: CopyEvent) => void;
  /** Once the signature is checked: the bytes of layers and pieces still to read (progress total). */
  readonly onStart?: (todo: { readonly blobs: number; readonly bytes: number }) => void;
  readonly signal?: AbortSignal;
}

export interface VerifyResult {
  readonly version: 1;
  readonly bundleId: Digest;
  readonly signature: SignatureStatus;
  readonly artifacts: number;
  readonly blobsChecked: number;
  readonly bytesChecked: number;
  readonly upstreamSignaturesChecked: number;
  /** With `upstream`: release files whose vendor signature or checksums file was checked again from the bundle's bytes. */
  readonly releaseFilesChecked?: number;
  /** Split bundles: the volumes given, and how many the bundle has. */
  readonly volumes?: { readonly given: readonly number[]; readonly count: number };
  /** `export --include-tool`: the executable beside the bundle, checked against airlock.json. */
  readonly tool?: ToolCheck;
}

/**
 * `airlock bundle verify`: offline, no registry. The signature, then every blob through
 * verifyStream (a copy to nowhere). Every problem is collected, not just the first.
 */
export async function verifyBundle(opts: VerifyOptions): Promise<VerifyResult> {
  const logger = opts.logger ?? NOOP_LOGGER;
  const emit = opts.onEvent ?? (() => {});
  const reader = await openBundle(opts.bundles, opts.signal ? { signal: opts.signal } : {});
  // Entries stored as they are (a .tar, raw zstd blocks) are hashed where they lie, several at
  // once, by a pool of workers (each reads into a small buffer and hashes it warm: docs/BENCHMARKS.md
  // "Verify in a hashing pool"); the others pass through this thread as before. The workers start
  // now (~50 ms each), while this thread checks the signature and builds the plan.
  const pool = new RangeHasherPool();
  if (reader.form !== 'dir') pool.warm();
  try {
    const status = await verifyBundleManifest({ airlockJson: reader.airlockRaw, signature: reader.signature, policy: opts.signature, bundlePath: bundleLabel(opts.bundles) });
    if (!status.verified) logger.warn(`the signature was not verified (${status.reason ?? 'unsigned'}); checking digests only`);
    const manifest = reader.manifest;
    // The plan, from the front alone; building it checks the structure: every manifest present in
    // the front and every child listed.
    const plan = buildBundlePlan(manifest, reader.metadata, reader.id);
    const upstreamChecked = opts.upstream ? await reverifyUpstream(manifest, reader.metadata, { logger, trustedRootPath: opts.signature.keyless?.trustedRootPath }) : 0;

    const problems: AirlockError[] = [];
    const seen = new Set<string>(reader.metadata.keys());
    // The total is known only for a whole bundle; given volumes of a split one hold an unknown share.
    if (!manifest.volumes) {
      const todo = manifest.blobs.filter((b) => b.location === 'bundle' && !reader.metadata.has(b.digest));
      opts.onStart?.({ blobs: todo.length, bytes: todo.reduce((s, b) => s + b.size, 0) });
    }
    // --upstream: signed release files and checksums files are kept (verified) in a private
    // temporary directory as they pass, and checked there once the bundle has been read.
    const releaseDeliveries: Delivery[] = opts.upstream && manifest.artifacts.some((a) => a.fileSignature || a.checksums)
      ? planDeliveries(manifest.artifacts, reader.metadata)
      : [];
    let releaseFilesChecked: number | undefined;
    const releaseDir = releaseDeliveries.length > 0 ? await mkdtemp(join(tmpdir(), 'airlock-verify-files-')) : undefined;
    const releaseByDigest = new Map<string, Delivery[]>();
    for (const d of releaseDeliveries) releaseByDigest.set(d.digest, [...(releaseByDigest.get(d.digest) ?? []), d]);
    // The plan executed into a sink that keeps nothing (a copy to nowhere) but the release files:
    // every layer and piece the given files hold passes through the engine's verifyStream. The
    // front (every manifest and config) was verified as it was read, so the sink holds it already.
    const keepIn = (dir: string) => (desc: Descriptor): string | undefined => {
      const keep = releaseByDigest.get(desc.digest);
      return keep ? join(dir, keep[0]!.path) : undefined;
    };
    const sink = new DiscardSink({ holds: reader.metadata.keys(), ...(releaseDir ? { keep: keepIn(releaseDir) } : {}) });
    const copyPlan = planCopy({ roots: verifyRoots(plan.roots, plan.nodes, manifest), nodes: plan.nodes, targetOf: () => 'verify' });
    const targets = copyPlan.targets.map((t): RootTarget => ({ ...t, sink }));
    // Hashes start as the index finds each layer (onPlaced: the pool's workers hash while this
    // thread still reads block headers) and are taken up when the engine reaches the entry.
    const early = new Map<string, EarlyHash>();
    const startEarly = (place: EntryInPlace): void => {
      const k = placeKey(place);
      if (place.ranges.length === 0 || early.has(k)) return;
      const e: EarlyHash = { result: undefined!, unreported: 0, onProgress: undefined };
      e.result = pool.hash(place.path, place.ranges, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (n) => (e.onProgress ? e.onProgress(n) : (e.unreported += n)),
      });
      e.result.catch(() => {});
      early.set(k, e);
    };
    const hashPlace = (place: EntryInPlace, o: InPlaceHashOptions): Promise<RangeHash> => {
      const k = placeKey(place);
      const e = early.get(k);
      if (!e) return pool.hash(place.path, place.ranges, o);
      early.delete(k);
      if (e.unreported > 0) o.onProgress(e.unreported);
      e.onProgress = o.onProgress;
      return e.result;
    };
    /** Entry order, by `where`: problems are reported in it whichever hash ends first. */
    const order = new Map<string, number>();
    const entries = async function* (): AsyncGenerator<SuppliedBlob> {
      for await (const entry of reader.blobs({ inPlace: true, onPlaced: startEarly, ...(opts.signal ? { signal: opts.signal } : {}) })) {
        // Where it failed: the file (the volume it came from) and the entry in it (STYLE.md §5).
        const file = entry.volume !== undefined ? (reader.volumes.find((v) => v.number === entry.volume)?.path ?? `volume ${entry.volume}`) : bundleLabel(opts.bundles);
        const where = `${file}, entry ${entry.piece ? pieceEntryName(entry.desc.digest, entry.piece.offset) : blobEntryName(entry.desc.digest)}`;
        if (!order.has(where)) order.set(where, order.size);
        const place = entry.place;
        yield {
          desc: entry.desc, body: entry.body, where, ...(entry.piece ? { piece: entry.piece } : {}),
          ...(place ? { hashInPlace: (o: InPlaceHashOptions) => hashPlace(place, o) } : {}),
        };
        seen.add(entry.piece ? `${entry.desc.digest}@${entry.piece.offset}` : entry.desc.digest);
      }
    };
    try {
      // Entries in file order, as the bundle is read. Those hashed in place are queued with the
      // pool as they come (only their ranges are held), so it can start the largest first; the
      // others are read one by one as before. Problems are sorted into entry order.
      await executeCopy(copyPlan, { kind: 'sequential', blobs: entries() }, targets, {
        concurrency: IN_PLACE_QUEUE,
        // The sink holds manifests and configs without the layers below them.
        checkEveryBlob: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onEvent: (e) => {
          if (e.type === 'blob-start' || e.type === 'bytes' || (e.type === 'blob-done' && e.how === 'copied')) emit(e);
        },
      });
      const rank = (p: AirlockError): number => order.get(p.where ?? '') ?? order.size;
      problems.push(...[...sink.problems].sort((a, b) => rank(a) - rank(b)));
      if (releaseDir) {
        const have: Delivery[] = [];
        for (const [digest, first] of sink.kept) {
          const keep = releaseByDigest.get(digest)!;
          for (const d of keep.slice(1)) {
            await mkdir(dirname(join(releaseDir, d.path)), { recursive: true });
            await copyFile(first, join(releaseDir, d.path));
          }
          have.push(...keep);
        }
        try {
          const r = await recheckReleaseFiles(releaseDir, manifest.artifacts, releaseDeliveries.filter((d) => have.includes(d)), logger, opts.signature.keyless?.trustedRootPath);
          releaseFilesChecked = r.signed.length + r.checksums.length;
        } catch (err) {
          if (!isAirlockError(err)) throw err;
          problems.push(err);
        }
      }
    } finally {
      if (releaseDir) await rm(releaseDir, { recursive: true, force: true }).catch(() => {});
    }
    const blobs = reader.metadata.size + sink.blobs;
    const bytes = [...reader.metadata.values()].reduce((s, b) => s + b.length, 0) + sink.bytes;
    // The executable carried beside the bundle (export --include-tool), when it is there.
    let tool: ToolCheck | undefined;
    try {
      tool = await checkCarriedTool(manifest, opts.bundles[0]!, opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      if (!isAirlockError(err) || err.exitCode !== 3) throw err;
      problems.push(err);
    }
    // Completeness: everything this bundle (or the given volumes of it) claims to hold.
    const given = new Set(reader.volumes.flatMap((v) => (v.number === undefined ? [] : [v.number])));
    for (const b of manifest.blobs) {
      if (b.location !== 'bundle') continue;
      if (b.pieces) {
        for (const p of b.pieces) {
          if (manifest.volumes && !given.has(p.volume)) continue;
          if (!seen.has(`${b.digest}@${p.offset}`)) problems.push(new AirlockError('BUNDLE_INCOMPLETE', `piece at ${p.offset} of blob ${b.digest} is missing`, { where: `volume ${p.volume}` }));
        }
        continue;
      }
      if (manifest.volumes && b.volume !== undefined && !given.has(b.volume)) continue;
      if (!seen.has(b.digest)) problems.push(new AirlockError('BUNDLE_INCOMPLETE', `blob ${b.digest} (${b.size} bytes) is listed in airlock.json but missing`, { ...(b.volume ? { where: `volume ${b.volume}` } : {}) }));
    }
    if (problems.length > 0) {
      const code = problems.every((p) => p.code === 'UPSTREAM_SIGNATURE_INVALID') ? 'UPSTREAM_SIGNATURE_INVALID'
        : problems.some((p) => p.code === 'DIGEST_MISMATCH' || p.code === 'SIZE_MISMATCH') ? 'DIGEST_MISMATCH' : 'BUNDLE_INCOMPLETE';
      throw new MultiError(code, `the bundle failed verification: ${problems.length} problem(s)`, problems, {
        where: opts.bundles.join(', '),
        hint: 'the bundle is damaged or was altered: copy it again from the source (only the named volumes, if split)',
      });
    }
    return {
      version: 1, bundleId: reader.id, signature: status, artifacts: manifest.artifacts.length, blobsChecked: blobs,
      bytesChecked: bytes, upstreamSignaturesChecked: upstreamChecked, ...(releaseFilesChecked !== undefined ? { releaseFilesChecked } : {}),
      ...(manifest.volumes ? { volumes: { given: [...given].sort((a, b) => a - b), count: manifest.volumes.count } } : {}),
      ...(tool ? { tool } : {}),
    };
  } finally {
    await pool.close();
    await reader.close().catch(() => {});
  }
}

/** A hash started before the engine reached its entry; progress is held until then. */
interface EarlyHash {
  result: Promise<RangeHash>;
  unreported: number;
  onProgress: ((bytes: number) => void) | undefined;
}

/** An entry's place, by its file and first range (two entries of a file never share one). */
function placeKey(place: EntryInPlace): string {
  return `${place.path}\0${place.ranges[0]?.offset ?? -1}\0${place.ranges.length}`;
}

/**
 * What verify copies to nowhere: every artifact of the plan, and as a root of its own each blob
 * airlock.json places in the bundle that no artifact reaches (a bundle altered to carry more than
 * its artifacts need is still read and hashed in full).
 */
function verifyRoots(roots: readonly PlannedRoot[], nodes: ReadonlyMap<Digest, PlanNode>, manifest: AirlockManifest): PlannedRoot[] {
  const reached = new Set<Digest>();
  for (const r of roots) for (const d of closure(nodes, r.desc.digest)) reached.add(d);
  const strays = manifest.blobs.filter((b) => b.location === 'bundle' && !reached.has(b.digest));
  // Tags are left out: nothing is tagged in a sink that keeps nothing.
  return [
    ...roots.map(({ tag: _t, ...root }) => root),
    ...strays.map((b): PlannedRoot => ({ kind: 'file', repository: 'verify', registry: '', repositoryPath: '', desc: { mediaType: b.mediaType, digest: b.digest, size: b.size } })),
  ];
}
