import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { AirlockError, ioError, mismatchedDigest } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { openCache, ReadThroughSource, type DownloadCache } from '../cache/index.js';
import { LayoutStore } from '../layout/index.js';
import {
  blobOrder, CacheFirstSource, closure, describePlan, executeCopy, formatSource, planCopy, PlanSource, walkGraph,
  type CopyEvent, type NodeSource, type PlanDescription, type PlanNode, type PlannedRoot,
} from '../copy/index.js';
import {
  ANNOTATION_REF_NAME, formatPlatform, isManifestMediaType, type Descriptor, type Digest, type Platform,
} from '../oci/index.js';
import { formatReference, formatRepository, normaliseRegistry, parseChartReference, type Reference } from '../reference/index.js';
import { compareLock, readLockFile, readMirrorLists, selectTags, writeLockFile, type ChartEntry, type MirrorList } from '../mirror/index.js';
import { createRegistryPool, type RegistryHostConfig, type RegistryRepository, type ScopedCredentials } from '../registry/index.js';
import {
  AIRLOCK_FORMAT_VERSION, writeParity, applyVolumePlan, bundleIdOf, planVolumes, computePieceDigests, placedInBundle, removeStaleTemporaries, stagingDirFor, writeBundle, writesInPlace,
  type AirlockManifest, type BundleArtifact, type BundleBlob, type CarriedTool, type VolumePlan,
} from '../bundle/index.js';
import { assertAmbientIdentityToken, checkKeylessSignature, loadPrivateKey, readIdentityToken, readPassphrase, signBundleManifest, type KeylessSigningOptions } from '../signing/index.js';
import { forEachConcurrent, Semaphore, writeFileAtomic } from '../util/index.js';
import { TOOL_COMMIT, TOOL_VERSION } from '../version.js';
import { loadBases } from './bases.js';
import { travels, type BaseSet } from '../bundle/index.js';
import { verifyUpstreamSignatures } from '../signing/index.js';
import { resolveCarried, resolveRepoChart, addCarriedRoots, hostSettingsOf, readOciChartFiles, withCarriedDetails, type CarryContext } from './carried.js';
import { chartDependencies, type ChartFiles } from '../charts/index.js';
import { checkReleaseFilesAtExport } from '../files/index.js';
import { discardTool, publishTool, stageTool, type StagedTool, type ToolToCarry } from '../bundle/index.js';
import { LocalSources, type LocalImage } from './local-sources.js';

export type BundleForm = 'dir' | 'tar' | 'tar.zst';

export interface ExportOptions {
  /** Mirror lists (-f); merged. */
  readonly files: readonly string[];
  /** Output path; required unless dryRun. */
  readonly output?: string;
  readonly dryRun?: boolean;
  readonly signKey?: string;
  /** `--keyless`: sign with a Fulcio certificate for an OIDC identity, logged in Rekor (signing/keyless.ts). */
  readonly keyless?: KeylessSigningOptions;
  /**
   * `--trusted-root`: the Sigstore root for mirror-list `verify: keyless` entries without their own
   * `trustedRoot` (carried in airlock.json with their evidence), and with `keyless`, the root the
   * new signature must verify against before the bundle is written.
   */
  readonly trustedRoot?: string;
  /** --platform: overrides every entry's platforms. */
  readonly platforms?: readonly Platform[];
  readonly splitSize?: number;
  /**
   * `--parity N` (with splitSize): N parity volumes `OUT.par001`, … (Reed–Solomon over the
   * volumes' bytes; XOR for N = 1), so that any N lost or damaged files can be rebuilt by
   * `airlock bundle repair`. Default 0.
   */
  readonly parity?: number;
  readonly cacheDir?: string;
  /**
   * Use no download cache (`--no-cache`): read nothing from it, keep nothing in it. Each blob is
   * then written once, into the bundle only (docs/BENCHMARKS.md: 5.1 instead of 5.5–6.3 s for
   * the large profile); an interrupted export downloads everything again.
   */
  readonly noCache?: boolean;
  /** Parallel transfers. Default 8. */
  readonly concurrency?: number;
  /** Source registry settings from flags (TLS, cert dir, authfile); the mirror list's `registries:` wins. */
  readonly source?: RegistryHostConfig;
  /**
   * Source credentials from the command line. Each goes to the one registry it names; unscoped
   * ones (`--src-creds USER:PASS`, or `source.credentials`) only when the mirror lists name a single
   * source registry, else USAGE (issue 23).
   */
  readonly sourceCredentials?: SourceCredentials;
  readonly lock?: string;
  readonly locked?: boolean;
  readonly since?: readonly string[];
  readonly receiptKeys?: readonly string[];
  readonly compressionLevel?: number;
  readonly logger?: Logger;
  readonly onEvent?: (e: CopyEvent) => void;
  readonly signal?: AbortSignal;
  /** `--include-tool`: this executable, written beside the bundle and recorded in airlock.json (ops/tool.ts). */
  readonly includeTool?: ToolToCarry;
  /** For tests: count registry requests. */
  readonly onRequest?: (info: { method: string; url: string; status?: number }) => void;
}

export interface ExportResult {
  readonly version: 1;
  readonly bundleId?: Digest;
  readonly output?: string;
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
  readonly artifacts: readonly BundleArtifact[];
  readonly blobs: number;
  /** Sum of every artifact's blobs, before dedup. */
  readonly bytesBeforeDedup: number;
  /** Unique bytes the artifacts need. */
  readonly bytesAfterDedup: number;
  /** Bytes carried in this bundle (after delta). */
  readonly bytesIncluded: number;
  readonly bytesFromBases: number;
  readonly bytesDownloaded: number;
  readonly volumes?: readonly { readonly volume: number; readonly bytes: number; readonly blobs: number }[];
  readonly bases: readonly Digest[];
  readonly signed: boolean;
  readonly dryRun: boolean;
  /** Dry run: the copy plan itself (describePlan): each root with its name in the bundle, every blob and where it comes from. */
  readonly plan?: PlanDescription;
  readonly durationMs: number;
  /** `--include-tool`: the executable written beside the bundle. */
  readonly tool?: CarriedTool;
}

export function bundleFormOf(output: string): BundleForm {
  if (output.endsWith('.tar.zst') || output.endsWith('.tzst')) return 'tar.zst';
  if (output.endsWith('.tar')) return 'tar';
  return 'dir';
}

interface ResolvedRoot {
  readonly kind: 'image' | 'chart';
  readonly ref: Reference;
  readonly tag?: string;
  readonly desc: Descriptor;
  readonly rootBytes?: Buffer;
  readonly platforms?: readonly Platform[];
  readonly referrers: boolean;
  readonly where: string;
  readonly entryIndex: number;
  /** Read from an archive or layout (`archive:` / `layout:`), not a registry. */
  readonly local?: Pick<LocalImage, 'source' | 'origin' | 'record'>;
  /** `tag` is the mirror list's `tag:` for a digest-only reference: set in the target only. */
  readonly tagGiven?: boolean;
  /** The reference came from a `fromFile:` release manifest. */
  readonly fromFile?: { readonly path: string; readonly selector: string };
  /** A chart carried because another chart depends on it (includeDependencies): that chart. */
  readonly dependencyOf?: string;
}

/** `airlock bundle export`: mirror lists → pinned, deduplicated, signed bundle. */
export async function exportBundle(opts: ExportOptions): Promise<ExportResult> {
  const started = Date.now();
  const logger = opts.logger ?? NOOP_LOGGER;
  const emit = opts.onEvent ?? (() => {});
  const signal = opts.signal;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  if (!opts.dryRun && !opts.output) throw new AirlockError('USAGE', 'missing -o/--output', { hint: 'name the bundle to write, e.g. -o site.tar.zst' });
  if (opts.parity !== undefined && opts.parity !== 0) {
    if (!Number.isSafeInteger(opts.parity) || opts.parity < 0) throw new AirlockError('USAGE', `--parity ${opts.parity}: give a whole number of parity volumes`, { hint: 'e.g. --parity 1' });
    if (!opts.splitSize) throw new AirlockError('USAGE', '--parity needs --split-size: parity volumes protect the volumes of a split bundle', { hint: 'add --split-size 4GiB (or smaller)' });
  }

  // 1. Input, validated whole before any network traffic.
  const mirror = await readMirrorLists(opts.files);
  const bases: BaseSet = await loadBases(opts.since ?? [], { receiptKeys: opts.receiptKeys ?? [] });
  if (opts.signKey && opts.keyless) {
    throw new AirlockError('USAGE', 'give either --sign-key or --keyless, not both', { hint: 'a bundle carries one signature' });
  }
  const signingKey = opts.signKey ? await loadPrivateKey(opts.signKey, () => readPassphrase(`passphrase for ${opts.signKey}: `)) : undefined;
  // A token file that cannot be used is bad input now, not after the download.
  if (opts.keyless?.identityTokenPath !== undefined) await readIdentityToken(opts.keyless.identityTokenPath);
  else if (opts.keyless) assertAmbientIdentityToken();
  const signs = Boolean(signingKey ?? opts.keyless);
  // Keyless vendor checks are offline: each needs a root, named now rather than after the walk.
  const rootless = mirror.images.filter((e) => e.verify?.kind === 'keyless' && !e.verify.trustedRoot);
  if (rootless.length > 0 && !opts.trustedRoot) {
    throw new AirlockError('MIRROR_INVALID', `${rootless.length} keyless verify: entr${rootless.length === 1 ? 'y names' : 'ies name'} no trustedRoot (verification is offline)`, {
      where: rootless[0]!.where,
      hint: 'add trustedRoot: ./trusted_root.json to the entry, or pass export --trusted-root (the public-good root: `cosign trusted-root` or sigstore/root-signing)',
    });
  }

  const pool = createRegistryPool({
    defaults: opts.source ?? { tls: 'verify' },
    credentials: scopeSourceCredentials(mirror, opts.sourceCredentials, opts.source?.credentials),
    perRegistry: new Map([...mirror.registries].map(([host, s]) => [host, {
      ...(s.tls ? { tls: s.tls } : {}), ...(s.certDir ? { certDir: s.certDir } : {}), ...(s.authfile ? { authfile: s.authfile } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
    }])),
    clientOptions: { logger, connections: concurrency * 2, proxy: 'env', ...(opts.onRequest ? { onRequest: opts.onRequest } : {}) },
  });
  const repoCache = new Map<string, RegistryRepository>();
  const repoOf = (registry: string, repository: string): RegistryRepository => {
    const k = `${registry}/${repository}`;
    let r = repoCache.get(k);
    if (!r) repoCache.set(k, (r = pool.client(registry).repository(repository)));
    return r;
  };

  const cleanups: (() => Promise<void>)[] = [];
  try {
    // 2. Resolve every tag to a digest, once. Files and classic charts are downloaded into the
    // cache here (their digests are only known once their bytes are).
    // --no-cache: a throwaway store beside the output (named like the staging, so a killed run's
    // is cleaned up by the next) holds what must be staged: manifests' blobs, configs, the tail.
    const throwaway = opts.noCache ? stagingDirFor(opts.output ? resolvePath(opts.output) : join(tmpdir(), 'airlock-dry-run')) : undefined;
    if (throwaway) cleanups.push(() => rm(throwaway, { recursive: true, force: true }));
    const cache = await openCache(throwaway ?? opts.cacheDir);
    // Archives and layouts named by `archive:` / `layout:` (local-sources.ts); a compressed archive
    // is read through an uncompressed copy beside the cache, removed when the export ends.
    const locals = new LocalSources({ tempDir: join(cache.root, 'unpacked'), logger, ...(signal ? { signal } : {}) });
    cleanups.push(() => locals.close());
    const carry: CarryContext = { cache, mirror, logger, carried: [], chartImages: new Map(), dependencyOf: new Map(), ...(signal ? { signal } : {}) };
    const resolved = await resolveRoots(mirror, opts, repoOf, emit, logger, concurrency, signal, carry, locals);
    // Vendor signatures over release files and the release set's checksums file: checked on the
    // bytes now in the cache, before anything is written (release-files.ts).
    carry.releaseFiles = await checkReleaseFilesAtExport({
      mirror, carried: carry.carried, blobPath: (d) => cache.blobPath(d), hostSettings: hostSettingsOf(mirror), logger, ...(signal ? { signal } : {}),
    });
    const lockMap = new Map<string, string>();
    // The lock pins registry tags; an archive's names and a `tag:` the list gives are not looked up anywhere.
    for (const r of resolved) if (r.tag !== undefined && !r.local && !r.tagGiven) lockMap.set(`${formatRepository(r.ref)}:${r.tag}`, r.desc.digest);
    if (opts.lock && opts.locked) {
      const lock = await readLockFile(opts.lock);
      const problems = compareLock(lock, lockMap);
      if (problems.length > 0) {
        throw new AirlockError('LOCK_MISMATCH', `${problems.length} resolved reference(s) differ from the lock file ${opts.lock}`, {
          where: opts.lock,
          hint: `${problems.map((p) => p.message).slice(0, 5).join('; ')}; re-run without --locked to update the lock`,
        });
      }
    }

    // 3. Walk every graph (manifests only), with referrers.
    const nodes = new Map<Digest, PlanNode>();
    const roots: PlannedRoot[] = [];
    /** airlock.json fields only the mirror entry knows (archive, given tag, release manifest), by artifact key. */
    const details = new Map<string, Partial<BundleArtifact>>();
    const walkLimit = new Semaphore(concurrency);
    const tagsOf = createTagLists();
    // allSettled, not all: on a failure the other walks still finish before the pool closes below,
    // instead of running on against closed clients.
    await settleAll(resolved.map((r) => walkLimit.run(async () => {
      const src = r.local ? r.local.source : repoOf(r.ref.registry, r.ref.repository);
      const origin: NodeSource = r.local ? r.local.origin : { kind: 'registry', registry: r.ref.registry, repository: r.ref.repository };
      const where = `${formatRepository(r.ref)}${r.tag !== undefined ? `:${r.tag}` : ''}@${r.desc.digest}${r.local ? ` (${r.local.record.format} ${r.local.record.name})` : ''}`;
      const w = await walkGraph(src, r.desc, nodes, {
        where, origin, ...(signal ? { signal } : {}), ...(r.platforms ? { platforms: r.platforms } : {}),
      }, r.rootBytes);
      if (w.upstreamDigest) logger.info(`${where}: kept ${w.platforms?.map(formatPlatform).join(', ')}; new index ${w.root.digest}`);
      roots.push({
        kind: r.kind, repository: formatRepository(r.ref), registry: r.ref.registry, repositoryPath: r.ref.repository,
        ...(r.tag !== undefined ? { tag: r.tag } : {}), desc: w.root,
        ...(w.upstreamDigest ? { upstreamDigest: w.upstreamDigest } : {}), ...(w.platforms ? { platforms: w.platforms } : {}),
      });
      const detail = artifactDetail(r, formatRepository(r.ref));
      if (detail) details.set(artifactKey(r.kind, formatRepository(r.ref), r.tag, w.root.digest), detail);
      if (r.referrers && !r.local) {
        const repo = repoOf(r.ref.registry, r.ref.repository);
        for (const ref of await findReferrers(repo, w.root, r.desc, tagsOf, logger, signal)) {
          const rw = await walkGraph(repo, ref.desc, nodes, { where: `${where} referrer ${ref.desc.digest}`, origin, ...(signal ? { signal } : {}) });
          roots.push({
            kind: 'referrer', repository: formatRepository(r.ref), registry: r.ref.registry, repositoryPath: r.ref.repository,
            desc: rw.root, subject: ref.subject, ...(ref.tag ? { tag: ref.tag, referrerTag: ref.tag } : {}),
            ...(ref.desc.artifactType ? { artifactType: ref.desc.artifactType } : {}),
          });
        }
      }
    })));
    await addCarriedRoots(carry, nodes, roots);
    const uniqueRoots = dedupeRoots(roots);

    // Upstream signature checks (verify: in the mirror list). Their payload blobs are read through
    // the download cache like every other blob, so an export with a warm cache downloads nothing
    // (issue 4); a dry run only reads the cache, it does not fill it.
    const upstream = await verifyUpstreamSignatures(mirror, resolved, uniqueRoots, nodes,
      (registry, repository) => new ReadThroughSource(repoOf(registry, repository), cache, { fill: !opts.dryRun }), { logger, trustedRoot: opts.trustedRoot, ...(signal ? { signal } : {}) });

    // 4. Which blobs travel (bases.ts `travels`): every manifest and index (the importer plans
    // from them); configs and layers only when no base holds them.
    const order = blobOrder(nodes);
    const blobs: BundleBlob[] = order.map((d) => {
      const n = nodes.get(d)!;
      // Delivered files travel in every bundle: the site writes them from this bundle's own bytes.
      const baseIds = carry.deliveredBlobs?.has(d) ? [] : bases.holders(d);
      if (travels(n.desc.mediaType, baseIds.length > 0)) return { digest: d, size: n.desc.size, mediaType: n.desc.mediaType, location: 'bundle' };
      // Left to a base: the plan says so (it is never fetched).
      nodes.set(d, { ...n, origin: { kind: 'base', bases: baseIds } });
      return { digest: d, size: n.desc.size, mediaType: n.desc.mediaType, location: 'base', bases: baseIds };
    });
    const artifacts: BundleArtifact[] = uniqueRoots.map((r) => ({
      ...withCarriedDetails(carry, toArtifact(r, nodes, upstream.get(r.desc.digest))),
      ...details.get(artifactKey(r.kind, r.repository, r.tag, r.desc.digest)),
    }));
    const included = blobs.filter((b) => b.location === 'bundle');
    const bytesIncluded = included.reduce((s, b) => s + b.size, 0);
    const bytesAfterDedup = blobs.reduce((s, b) => s + b.size, 0);
    const bytesBeforeDedup = artifacts.reduce((s, a) => s + (a.totalSize ?? 0), 0);
    // The plan: each root named as airlock.json records it and as the bundle names it (its repository).
    const plan = planCopy({ roots: uniqueRoots.map((r, i) => ({ ...r, source: artifacts[i]!.source })), nodes, targetOf: (r) => r.repository });
    // Upstream (registry, archive, layout) as one source: each node is read from where the walk found it.
    const upstreamSource = new PlanSource(nodes, { registry: repoOf, local: (id) => locals.source(id) });
    const form = opts.output ? bundleFormOf(opts.output) : 'tar.zst';
    const indexEntries: Descriptor[] = uniqueRoots.map((r) => ({
      mediaType: r.desc.mediaType, digest: r.desc.digest, size: r.desc.size,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      annotations: { [ANNOTATION_REF_NAME]: refName(r) },
    }));
    let tool: StagedTool | undefined;
    const draft = (extra: Partial<AirlockManifest> = {}): AirlockManifest => ({
      version: AIRLOCK_FORMAT_VERSION, created: new Date().toISOString(),
      tool: { name: 'airlock', version: TOOL_VERSION, ...(TOOL_COMMIT ? { commit: TOOL_COMMIT } : {}), ...(tool ? { executable: tool.record } : {}) },
      bases: bases.records, artifacts, blobs, ...extra,
    });
    let volumePlan: VolumePlan | undefined;
    if (opts.splitSize) {
      if (form === 'dir') throw new AirlockError('USAGE', '--split-size needs a file output (.tar or .tar.zst)', { hint: 'name the output x.tar.zst' });
      // Front: airlock.json (before the plan's own records), a signature, oci-layout and index.json.
      const frontBytes = serialise(draft()).length + SIGNATURE_RESERVE + JSON.stringify(indexEntries, null, 2).length + 1024;
      volumePlan = planVolumes(
        included.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType, metadata: nodes.get(b.digest)!.kind !== 'layer' })),
        { maxSize: opts.splitSize, compressed: form === 'tar.zst', frontBytes },
      );
    }

    if (opts.dryRun) {
      return {
        version: 1, files: [], artifacts, blobs: blobs.length, bytesBeforeDedup, bytesAfterDedup, bytesIncluded,
        bytesFromBases: bytesAfterDedup - bytesIncluded, bytesDownloaded: 0, bases: bases.ids,
        ...(volumePlan ? { volumes: volumeSummary(volumePlan) } : {}), signed: signs, dryRun: true, plan: describePlan(plan), durationMs: Date.now() - started,
      };
    }

    // 5 and 6, again when a blob read from the download cache turns out wrong (a cache file whose
    // bytes changed but not its size, a reference into a bundle changed in place): the cache is a
    // hint, so its entry is removed and the blob downloaded again, in this run.
    /** What this attempt read from the cache: a wrong byte there is the cache's, not upstream's. */
    const fromCache = new Set<string>();
    const produce = async (): Promise<ExportResult> => {
      fromCache.clear();
      // 5. Download what the cache lacks (verified while streaming), once per blob. A bundle written
      // in place (bundle/writer.ts writesInPlace: one .tar or .tar.zst) takes its compressed layers
      // straight from upstream into their place in the bundle, several at once, copying them into
      // the cache on the way (one download, one hash, no second pass); everything else is
      // downloaded into the cache first and staged from there.
      const inPlace = writesInPlace({ form, ...(volumePlan ? { volumes: volumePlan } : {}), ...(opts.compressionLevel !== undefined ? { compressionLevel: opts.compressionLevel } : {}) });
      const direct = new Set(included.filter((b) => inPlace && nodes.get(b.digest)!.kind === 'layer' && placedInBundle(b, form)).map((b) => b.digest));
      const wanted = new Set(included.filter((b) => !direct.has(b.digest)).map((b) => b.digest));
      // The download cache's plan: the same roots (untagged: a cache holds no tags), the blobs not written straight into the bundle.
      const cachePlan = planCopy({ roots: plan.roots.map(stripTag), nodes: filterNodes(plan.nodes, wanted), targetOf: () => 'cache' });
      let bytesDownloaded = 0;
      const upstreamSupply = { kind: 'random' as const, fetch: (desc: Descriptor, s?: AbortSignal): Promise<Readable> => upstreamSource.fetch(desc, s ? { signal: s } : {}) };
      await executeCopy(cachePlan, upstreamSupply, cachePlan.targets.map((t) => ({ ...t, sink: cache })), {
        concurrency,
        // A cached manifest does not mean its layers are cached: they may be in a bundle since moved.
        checkEveryBlob: true,
        ...(signal ? { signal } : {}),
        onEvent: (e) => {
          // Bytes read from an archive or layout on this host were not downloaded.
          if (e.type === 'blob-done' && e.how === 'copied' && !upstreamSource.isLocal(e.digest)) bytesDownloaded += e.size;
          emit(e);
        },
      });
      // Layers a bundle written in place takes straight from where they are: the cache (from an
      // earlier run: a cache file, or the bundle it wrote) or upstream. Not copied into the cache:
      // once the bundle is whole, the cache records where in it the layer lies
      // (DownloadCache.recordBundle), and a later export reads it from there.
      const layerSource = new CacheFirstSource(cache, upstreamSource, {
        whereOf: (desc) => {
          const origin = nodes.get(desc.digest)?.origin;
          return origin ? formatSource(origin) : 'upstream';
        },
        onServed: (desc, from) => {
          if (from === 'cache') fromCache.add(desc.digest);
          else if (!upstreamSource.isLocal(desc.digest)) bytesDownloaded += desc.size;
          emit({ type: 'blob-done', digest: desc.digest, size: desc.size, how: from === 'cache' ? 'cached' : 'copied' });
        },
      });

      // 6. Stage an OCI layout of exactly this bundle's blobs (links into the cache), build and sign airlock.json, write.
      const output = resolvePath(opts.output!);
      await mkdir(dirname(output), { recursive: true });
      const stale = await removeStaleTemporaries(output);
      if (stale.length > 0) logger.info(`removed ${stale.length} temporary file(s) left beside ${basename(output)} by an interrupted export`);
      const staging = stagingDirFor(output);
      const stage = new LayoutStore(staging);
      try {
        await stage.init();
        for (const b of included) {
          const n = nodes.get(b.digest)!;
          if (n.bytes) await stage.pushBytes(n.desc, n.bytes);
          else if (!direct.has(b.digest)) {
            fromCache.add(b.digest);
            await stage.linkFrom(cache, n.desc);
          }
        }
        await stage.writeIndex(indexEntries);
        await stage.removeIngest();
        if (opts.includeTool) tool = await stageTool(opts.includeTool, output, signal);

        let manifest = draft();
        if (volumePlan) {
          const pieces = await computePieceDigests(volumePlan, (d: Digest) => createReadStream(stage.blobPath(d)), signal ? { signal } : {});
          manifest = draft(applyVolumePlan(blobs, volumePlan, pieces));
        }
        const airlockJson = serialise(manifest);
        const bundleId = bundleIdOf(airlockJson);
        const signature = signs
          ? await signBundleManifest({ airlockJson, bundleId, baseIds: bases.ids, toolVersion: TOOL_VERSION, key: signingKey, keyless: opts.keyless })
          : undefined;
        if (opts.keyless && signature && opts.trustedRoot) {
          // Before the drive leaves: the site will verify with a root, so check this one now.
          const who = await checkKeylessSignature(airlockJson, signature, opts.trustedRoot);
          logger.info(`keyless signature by ${who.signer} (issuer ${who.issuer ?? 'unknown'}) verifies against ${opts.trustedRoot}`);
        }
        if (opts.keyless) logger.info('signed keyless: Fulcio certificate and Rekor entry are in airlock.sigstore.json');
        if (!signs) logger.warn('the bundle is not signed: pass --sign-key KEY (make one with `airlock keys generate`) so the site can verify where it came from');
        let written = await writeBundle({
          layoutDir: staging, airlockJson, ...(signature ? { signature } : {}), output, form,
          ...(opts.compressionLevel !== undefined ? { compressionLevel: opts.compressionLevel } : {}),
          order: included.map((b) => b.digest), ...(volumePlan ? { volumes: volumePlan } : {}),
          ...(inPlace ? { layers: layerSource, concurrency } : {}),
          ...(signal ? { signal } : {}), onProgress: (n: number) => emit({ type: 'bytes', bytes: n }),
        });
        if (opts.parity && volumePlan) {
          const volumes = written.files.map((f) => f.path).filter((p) => /\.vol\d+\.tar(\.zst)?$/.test(p)).sort();
          const par = await writeParity({ bundleId, volumes, m: opts.parity, ...(signal ? { signal } : {}) });
          await appendChecksums(written.checksums, par.files);
          written = { ...written, files: [...written.files, ...par.files] };
          logger.info(`${par.files.length} parity volume(s) of ${par.shardSize} bytes: any ${opts.parity} lost or damaged file(s) of the set can be rebuilt with \`airlock bundle repair\``);
        }
        if (tool) {
          await publishTool(tool, written.checksums);
          written = { ...written, files: [...written.files, { path: tool.final, size: tool.record.size, sha256: tool.record.digest.slice('sha256:'.length) }] };
        }
        if (!throwaway && direct.size > 0 && (form === 'tar' || form === 'tar.zst')) {
          const layers = included.filter((b) => direct.has(b.digest));
          const recorded = await cache.recordBundle(output, form, layers, written.places).catch((err: unknown) => {
            logger.warn(`the download cache could not record where the layers lie in ${output} (${(err as Error).message}); the next export downloads them again`);
            return 0;
          });
          logger.debug(`the download cache refers to ${recorded} of ${layers.length} layer(s) in ${output}`);
        }
        if (opts.lock && !opts.locked) {
          await writeLockFile(opts.lock, { version: 1, entries: [...lockMap].sort().map(([source, digest]) => ({ source, digest })) });
        }
        return {
          version: 1, bundleId, output, files: written.files, artifacts, blobs: blobs.length, bytesBeforeDedup, bytesAfterDedup,
          bytesIncluded, bytesFromBases: bytesAfterDedup - bytesIncluded, bytesDownloaded, bases: bases.ids,
          ...(volumePlan ? { volumes: volumeSummary(volumePlan) } : {}), signed: Boolean(signature), dryRun: false,
          durationMs: Date.now() - started, ...(tool ? { tool: tool.record } : {}),
        };
      } finally {
        await discardTool(tool);
        await rm(staging, { recursive: true, force: true }).catch(() => {});
      }
    };
    const evicted = new Set<string>();
    for (;;) {
      try {
        return await produce();
      } catch (err) {
        const d = mismatchedDigest(err);
        if (d === undefined || !fromCache.has(d) || evicted.has(d) || signal?.aborted) throw err;
        logger.warn(`the download cache's copy of ${d} is damaged (${(err as Error).message}): removed, downloading it again`);
        await evictDamaged(cache, d as Digest, evicted);
        // One damaged entry, and the cache is not trusted until each of this bundle's blobs it
        // holds has been read and hashed once (so that N damaged entries cost one more pass, not N).
        if (evicted.size === 1) {
          await forEachConcurrent(included.filter((b) => !nodes.get(b.digest)?.bytes && !evicted.has(b.digest)), concurrency, async (b) => {
            const desc = nodes.get(b.digest)!.desc;
            if ((await cache.exists(desc)) && !(await cache.holdsIntact(desc, signal ? { signal } : {}))) {
              logger.warn(`the download cache's copy of ${b.digest} is damaged too: removed, downloading it again`);
              await evictDamaged(cache, b.digest, evicted);
            }
          }, signal);
        }
      }
    }
  } finally {
    await pool.closeAll();
    for (const c of cleanups) await c().catch(() => {});
  }
}

async function resolveRoots(
  mirror: MirrorList,
  opts: ExportOptions,
  repoOf: (registry: string, repository: string) => RegistryRepository,
  emit: (e: CopyEvent) => void,
  logger: Logger,
  concurrency: number,
  signal: AbortSignal | undefined,
  carry: CarryContext,
  locals: LocalSources,
): Promise<ResolvedRoot[]> {
  const out: ResolvedRoot[] = [];
  const jobs: (() => Promise<void>)[] = [];
  const add = (
    kind: 'image' | 'chart', ref: Reference, tag: string | undefined, platforms: readonly Platform[] | undefined, referrers: boolean, where: string, entryIndex: number,
    extra: Pick<ResolvedRoot, 'tagGiven' | 'fromFile' | 'dependencyOf'> = {},
  ): void => {
    jobs.push(async () => {
      const repo = repoOf(ref.registry, ref.repository);
      let desc: Descriptor;
      let rootBytes: Buffer | undefined;
      if (ref.digest) {
        // Pinned by digest: fetch (and verify) it so the media type and size are known.
        const m = await repo.fetchManifest(ref.digest, signal ? { signal } : {});
        desc = m.desc;
        rootBytes = m.bytes;
        if (tag !== undefined && !extra.tagGiven) {
          const byTag = await repo.resolve(tag, signal ? { signal } : {}).catch(() => undefined);
          if (byTag && byTag.digest !== ref.digest) {
            logger.warn(`${formatRepository(ref)}:${tag} now points at ${byTag.digest}; exporting the pinned ${ref.digest}`);
          }
        }
      } else {
        const m = await repo.fetchManifest(tag ?? 'latest', signal ? { signal } : {});
        desc = m.desc;
        rootBytes = m.bytes;
      }
      if (!isManifestMediaType(desc.mediaType)) {
        throw new AirlockError('MANIFEST_INVALID', `${formatReference(ref)} is a ${desc.mediaType}, not an image manifest or index`, { where });
      }
      emit({ type: 'resolve', ref: `${formatRepository(ref)}${tag !== undefined ? `:${tag}` : ''}`, digest: desc.digest });
      const p = opts.platforms && opts.platforms.length > 0 ? opts.platforms : platforms;
      out.push({ kind, ref, ...(tag !== undefined ? { tag } : {}), desc, rootBytes, ...(p ? { platforms: p } : {}), referrers, where, entryIndex, ...extra });
    });
  };
  const listJobs: Promise<void>[] = [];
  mirror.images.forEach((e, i) => {
    if (e.kind === 'fromFile') {
      throw new AirlockError('INTERNAL', `${e.where}: a fromFile entry reached export unexpanded`);
    } else if (e.kind === 'archive') {
      listJobs.push((async () => {
        for (const img of await locals.resolveEntry(e)) {
          if (!isManifestMediaType(img.desc.mediaType)) {
            throw new AirlockError('MANIFEST_INVALID', `${img.record.name} holds a ${img.desc.mediaType} as ${formatRepository(img.ref)}, not an image manifest or index`, { where: e.where });
          }
          emit({ type: 'resolve', ref: `${formatRepository(img.ref)}${img.tag !== undefined ? `:${img.tag}` : ''}`, digest: img.desc.digest });
          const p = opts.platforms && opts.platforms.length > 0 ? opts.platforms : e.platforms;
          out.push({
            kind: 'image', ref: img.ref, ...(img.tag !== undefined ? { tag: img.tag } : {}), desc: img.desc, ...(img.rootBytes ? { rootBytes: img.rootBytes } : {}),
            ...(p ? { platforms: p } : {}), referrers: false, where: e.where, entryIndex: i,
            local: { source: img.source, origin: img.origin, record: img.record },
          });
        }
      })());
    } else if (e.kind === 'ref') {
      if (e.floating) logger.warn(`${e.where}: ${formatReference(e.ref)} has no fixed tag; it is resolved and pinned now, and will differ next time`);
      add('image', e.ref, e.targetTag ?? e.ref.tag, e.platforms, e.referrers ?? mirror.defaults.referrers, e.where, i, {
        ...(e.targetTag !== undefined ? { tagGiven: true } : {}), ...(e.fromFile ? { fromFile: e.fromFile } : {}),
      });
    } else {
      listJobs.push((async () => {
        const tags = await repoOf(e.repository.registry, e.repository.repository).tags(signal ? { signal } : {});
        const chosen = selectTags(tags, e.tags);
        if (chosen.length === 0) {
          throw new AirlockError('NOT_FOUND', `no tag of ${formatRepository(e.repository)} matches the selector`, {
            where: e.where, hint: `the repository has ${tags.length} tag(s)${tags.length ? `, e.g. ${tags.slice(-5).join(', ')}` : ''}`,
          });
        }
        for (const t of chosen) add('image', { ...e.repository, tag: t }, t, e.platforms, e.referrers ?? mirror.defaults.referrers, e.where, i);
      })());
    }
  });
  // Files (src/ops/carried.ts), charts of both kinds with the images they name (includeImages)
  // and the charts their Chart.yaml/Chart.lock depend on (includeDependencies), recursively.
  const addChartImage = (ref: Reference, where: string, i: number): void =>
    add('image', ref, ref.digest ? undefined : ref.tag, mirror.defaults.platforms, mirror.defaults.referrers, where, 200000 + i);
  listJobs.push(...resolveCarried(carry));
  const seenCharts = new Set<string>();
  const chartJob = async (c: ChartEntry, i: number, depth: number, parent?: string): Promise<void> => {
    const key = c.kind === 'oci' ? `oci ${formatRepository(c.ref)} ${c.version}` : `repo ${c.repoUrl} ${c.name} ${c.version}`;
    if (seenCharts.has(key)) return;
    seenCharts.add(key);
    let files: ChartFiles | undefined;
    let label: string;
    if (c.kind === 'oci') {
      let version = c.version;
      if (!/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$/.test(version)) {
        const tags = await repoOf(c.ref.registry, c.ref.repository).tags(signal ? { signal } : {});
        const chosen = selectTags(tags, { kind: 'semver', range: version });
        if (chosen.length === 0) throw new AirlockError('NOT_FOUND', `no version of chart ${formatRepository(c.ref)} matches ${version}`, { where: c.where });
        version = chosen[chosen.length - 1]!;
      }
      // Helm stores chart versions as tags, with + replaced by _ (OCI tags cannot hold +).
      const tag = version.replace(/\+/g, '_');
      label = `${formatRepository(c.ref)}:${tag}`;
      add('chart', { ...c.ref, tag }, tag, undefined, mirror.defaults.referrers, c.where, 100000 + i, parent ? { dependencyOf: parent } : {});
      if (c.includeImages || c.includeDependencies) {
        const read = await readOciChartFiles(repoOf(c.ref.registry, c.ref.repository), label, tag, carry, c.includeImages, signal);
        files = read.files;
        for (const img of read.images) addChartImage(img.reference, c.where, i);
      }
    } else {
      ({ files, label } = await resolveRepoChart(carry, c, addChartImage, i, parent));
    }
    if (!c.includeDependencies || !files) return;
    if (depth >= MAX_CHART_DEPENDENCY_DEPTH) {
      logger.warn(`${c.where}: ${label}: dependencies deeper than ${MAX_CHART_DEPENDENCY_DEPTH} levels are not followed`);
      return;
    }
    const deps: Promise<void>[] = [];
    for (const d of chartDependencies(files, label)) {
      const where = `${c.where} (dependency ${d.name} of ${label})`;
      if (d.kind === 'skip') {
        if (d.repository !== '' && !d.repository.startsWith('file://')) logger.warn(`${where}: not carried: ${d.repository} is ${d.why}`);
        continue;
      }
      const flags = { includeImages: c.includeImages, includeDependencies: true, where };
      if (d.kind === 'oci') {
        let ref: Reference;
        try {
          ref = parseChartReference(`${d.repository.slice('oci://'.length)}/${d.name}`);
        } catch (err) {
          throw new AirlockError('MANIFEST_INVALID', `${label} depends on ${d.repository}/${d.name}, which is not an OCI chart reference${err instanceof AirlockError ? ` (${err.message})` : ''}`, {
            where, cause: err, ...(err instanceof AirlockError && err.hint ? { hint: err.hint } : {}),
          });
        }
        deps.push(chartJob({ kind: 'oci', ref, version: d.version, ...flags }, i, depth + 1, label));
      } else {
        deps.push(chartJob({ kind: 'repo', repoUrl: d.repository, name: d.name, version: d.version, ...flags }, i, depth + 1, label));
      }
      logger.info(`${c.where}: ${label} depends on ${d.name} ${d.version}${d.locked ? ' (Chart.lock)' : ''} from ${d.repository}: carried too`);
    }
    await settleAll(deps);
  };
  mirror.charts.forEach((c, i) => listJobs.push(chartJob(c, i, 0)));
  await settleAll(listJobs);
  await forEachConcurrent(jobs, concurrency, (j) => j(), signal);
  return out.sort((a, b) => a.entryIndex - b.entryIndex || (a.tag ?? '').localeCompare(b.tag ?? ''));
}

/** A repository's tags, listed once per export (undefined when the registry would not list them). */
type TagLists = (repo: RegistryRepository, signal?: AbortSignal) => Promise<ReadonlySet<string> | undefined>;

function createTagLists(): TagLists {
  const lists = new Map<string, Promise<ReadonlySet<string> | undefined>>();
  return (repo, signal) => {
    const k = `${repo.client.registry}/${repo.name}`;
    let p = lists.get(k);
    if (!p) lists.set(k, (p = repo.tags(signal ? { signal } : {}).then((t) => new Set(t), () => undefined)));
    return p;
  };
}

interface FoundReferrer {
  readonly desc: Descriptor;
  readonly subject: Digest;
  readonly tag?: string;
}

const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** OCI referrers (API or tag schema) and cosign's `sha256-<hex>.sig/.att/.sbom` tags of a root. */
async function findReferrers(repo: RegistryRepository, root: Descriptor, upstream: Descriptor, tagsOf: TagLists, logger: Logger, signal?: AbortSignal): Promise<FoundReferrer[]> {
  const out: FoundReferrer[] = [];
  const subjects = root.digest === upstream.digest ? [root] : [root, upstream];
  const listed = await tagsOf(repo, signal);
  const tags = listed ?? new Set<string>();
  for (const subject of subjects) {
    for (const r of await repo.referrers(subject, { ...(signal ? { signal } : {}), ...(listed ? { knownTags: listed } : {}) }).catch((err: unknown) => {
      logger.warn(`could not list referrers of ${repo.client.registry}/${repo.name}@${subject.digest}: ${(err as Error).message}`);
      return [] as Descriptor[];
    })) {
      out.push({ desc: r, subject: subject.digest });
    }
    const hex = subject.digest.slice('sha256:'.length);
    for (const suffix of COSIGN_SUFFIXES) {
      const tag = `sha256-${hex}.${suffix}`;
      if (!tags.has(tag)) continue;
      const desc = await repo.resolve(tag, signal ? { signal } : {});
      out.push({ desc, subject: subject.digest, tag });
    }
  }
  const seen = new Set<string>();
  return out.filter((r) => {
    const k = `${r.desc.digest} ${r.tag ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

async function evictDamaged(cache: DownloadCache, digest: Digest, evicted: Set<string>): Promise<void> {
  evicted.add(digest);
  await cache.evict(digest);
}

function dedupeRoots(roots: readonly PlannedRoot[]): PlannedRoot[] {
  const seen = new Map<string, PlannedRoot>();
  for (const r of roots) {
    const k = `${r.kind} ${r.repository} ${r.tag ?? ''} ${r.desc.digest}`;
    if (!seen.has(k)) seen.set(k, r);
  }
  return [...seen.values()].sort((a, b) =>
    Number(a.kind === 'referrer') - Number(b.kind === 'referrer') || a.repository.localeCompare(b.repository) || (a.tag ?? '').localeCompare(b.tag ?? '') || a.desc.digest.localeCompare(b.desc.digest));
}

function filterNodes(nodes: ReadonlyMap<Digest, PlanNode>, keep: ReadonlySet<Digest>): Map<Digest, PlanNode> {
  const out = new Map<Digest, PlanNode>();
  for (const [d, n] of nodes) {
    if (keep.has(d)) out.set(d, n);
    else if (n.bytes) out.set(d, n);
  }
  // Blobs held by a base are not downloaded: drop them from children so the cache copy is complete without them.
  for (const [d, n] of out) {
    if (n.children.some((c) => !out.has(c))) out.set(d, { ...n, children: n.children.filter((c) => out.has(c)) });
  }
  return out;
}

function stripTag(r: PlannedRoot): PlannedRoot {
  const { tag: _t, ...rest } = r;
  return rest;
}

/** The key that joins a planned root to its `details` (export's side table of airlock.json fields). */
function artifactKey(kind: string, repository: string, tag: string | undefined, digest: Digest): string {
  return `${kind} ${repository} ${tag ?? ''} ${digest}`;
}

/** airlock.json fields for a root that came from an archive, a layout, a release manifest, or got its tag from the list. */
function artifactDetail(r: ResolvedRoot, repository: string): Partial<BundleArtifact> | undefined {
  if (!r.local && !r.tagGiven && !r.fromFile && !r.dependencyOf) return undefined;
  return {
    ...(r.local ? { archive: r.local.record, origin: `${r.local.record.format === 'oci-layout' ? 'layout' : 'archive'}:${r.local.record.name}` } : {}),
    // A tag that exists only in the target is not part of where the image came from.
    ...(r.tagGiven ? { tagGiven: true, source: `${repository}@${r.desc.digest}` } : {}),
    ...(r.fromFile ? { fromFile: { name: basename(r.fromFile.path), selector: r.fromFile.selector } } : {}),
    ...(r.dependencyOf ? { dependencyOf: r.dependencyOf } : {}),
  };
}

function refName(r: PlannedRoot): string {
  return r.tag !== undefined ? `${r.repository}:${r.tag}` : `${r.repository}@${r.desc.digest}`;
}

function toArtifact(r: PlannedRoot, nodes: ReadonlyMap<Digest, PlanNode>, sig: BundleArtifact['upstreamSignature']): BundleArtifact {
  const totalSize = closure(nodes, r.desc.digest).reduce((s, d) => s + (nodes.get(d)?.desc.size ?? 0), 0);
  return {
    kind: r.kind,
    source: `${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}@${r.upstreamDigest ?? r.desc.digest}`,
    repository: r.repository,
    ...(r.tag !== undefined ? { tag: r.tag } : {}),
    digest: r.desc.digest,
    mediaType: r.desc.mediaType,
    size: r.desc.size,
    ...(r.artifactType ? { artifactType: r.artifactType } : {}),
    ...(r.platforms && r.platforms.length > 0 ? { platforms: r.platforms.map(formatPlatform) } : {}),
    ...(r.upstreamDigest ? { upstreamDigest: r.upstreamDigest } : {}),
    ...(r.subject ? { subject: r.subject } : {}),
    ...(r.referrerTag ? { referrerTag: r.referrerTag } : {}),
    ...(r.fileName ? { fileName: r.fileName } : {}),
    totalSize,
    ...(sig ? { upstreamSignature: sig } : {}),
  };
}

function volumeSummary(plan: VolumePlan): { volume: number; bytes: number; blobs: number }[] {
  return plan.volumes.map((v) => ({ volume: v.number, bytes: v.bytes, blobs: v.blobs.length + v.pieces.length }));
}

/** airlock.json as written: compact but line-broken JSON, so a human can still diff two of them. */
function serialise(m: AirlockManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 1)}\n`);
}

/** Chart dependencies are followed this many levels down (a chart that depends on itself through others stops at its key). */
const MAX_CHART_DEPENDENCY_DEPTH = 8;

/** A key-based Sigstore bundle is ~2 KiB; leave room for a keyless one with a certificate chain. */
const SIGNATURE_RESERVE = 16 * 1024;


/** Wait for every promise; then throw the first rejection, if any. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Add files written beside the bundle to its checksums.txt (temporary name, then rename). */
async function appendChecksums(checksums: string, files: readonly { path: string; sha256: string }[]): Promise<void> {
  let listed: string;
  try {
    listed = await readFile(checksums, 'utf8');
  } catch (err) {
    throw ioError(err, 'read', checksums);
  }
  await writeFileAtomic(checksums, `${listed}${files.map((f) => `${f.sha256}  ${basename(f.path)}\n`).join('')}`);
}

export interface SourceCredentials {
  /** `--src-creds HOST=USER:PASS`, by registry host. */
  readonly scoped?: ReadonlyMap<string, { readonly username: string; readonly password: string }>;
  /** `--src-creds USER:PASS` or `--src-username` + `--src-password-stdin`; `flag` names them in errors. */
  readonly unscoped?: { readonly username: string; readonly password: string; readonly flag: string };
}

/**
 * Every credential from the command line, each tied to one registry host. Unscoped ones go to the
 * only source registry the mirror lists name (images, repositories, OCI charts); with several, or
 * none known before resolving (archives, release manifests only), they are refused rather than
 * sent to a registry they may not belong to.
 */
export function scopeSourceCredentials(
  mirror: MirrorList,
  given: SourceCredentials | undefined,
  legacy: { readonly username: string; readonly password: string } | undefined,
): Map<string, ScopedCredentials> {
  const out = new Map<string, ScopedCredentials>();
  for (const [host, c] of given?.scoped ?? []) out.set(normaliseRegistry(host), { ...c, source: `--src-creds for ${normaliseRegistry(host)}` });
  const unscoped = given?.unscoped ?? (legacy ? { ...legacy, flag: '--src-creds' } : undefined);
  if (!unscoped) return out;
  const hosts = new Set<string>();
  for (const e of mirror.images) {
    if (e.kind === 'ref') hosts.add(normaliseRegistry(e.ref.registry));
    else if (e.kind === 'repository') hosts.add(normaliseRegistry(e.repository.registry));
  }
  for (const c of mirror.charts) if (c.kind === 'oci') hosts.add(normaliseRegistry(c.ref.registry));
  const list = [...hosts].sort();
  if (list.length !== 1) {
    throw new AirlockError('USAGE', list.length === 0
      ? `${unscoped.flag} names no registry, and the mirror list names none to send it to`
      : `${unscoped.flag} names no registry, and the mirror list names ${list.length} source registries (${list.join(', ')})`, {
      hint: `say which registry the credentials are for: --src-creds REGISTRY=USER:PASS (repeatable), or \`creds\` / \`authfile\` under \`registries:\` in the mirror list`,
    });
  }
  const host = list[0]!;
  if (!out.has(host)) out.set(host, { username: unscoped.username, password: unscoped.password, source: `${unscoped.flag} (for ${host})` });
  return out;
}
