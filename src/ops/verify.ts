import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, MultiError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import { verifyStream } from '../content/index.js';
import type { CopyEvent } from '../copy/index.js';
import type { Digest } from '../oci/index.js';
import { blobEntryName, bundleLabel, openBundle, pieceEntryName } from '../bundle/index.js';
import { verifyBundleManifest, type SignaturePolicy, type SignatureStatus } from '../signing/index.js';
import { buildBundlePlan } from './bundle-plan.js';
import { reverifyUpstream } from '../signing/index.js';
import { checkCarriedTool, type ToolCheck } from '../bundle/index.js';
import { recheckReleaseFiles } from '../files/index.js';
import { planDeliveries, type Delivery } from '../files/index.js';

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
  try {
    const status = await verifyBundleManifest({ airlockJson: reader.airlockRaw, signature: reader.signature, policy: opts.signature, bundlePath: bundleLabel(opts.bundles) });
    if (!status.verified) logger.warn(`the signature was not verified (${status.reason ?? 'unsigned'}); checking digests only`);
    const manifest = reader.manifest;
    // Structure: every manifest present in the front and every child listed.
    buildBundlePlan(manifest, reader.metadata, reader.id);
    const upstreamChecked = opts.upstream ? await reverifyUpstream(manifest, reader.metadata, { logger, trustedRootPath: opts.signature.keyless?.trustedRootPath }) : 0;

    const problems: AirlockError[] = [];
    const seen = new Set<string>();
    let blobs = reader.metadata.size;
    let bytes = [...reader.metadata.values()].reduce((s, b) => s + b.length, 0);
    for (const d of reader.metadata.keys()) seen.add(d);
    // The total is known only for a whole bundle; given volumes of a split one hold an unknown share.
    if (!manifest.volumes) {
      const todo = manifest.blobs.filter((b) => b.location === 'bundle' && !reader.metadata.has(b.digest));
      opts.onStart?.({ blobs: todo.length, bytes: todo.reduce((s, b) => s + b.size, 0) });
    }
    const sink = (): Writable => new Writable({ highWaterMark: 1 << 20, write: (_c, _e, cb) => cb() });
    // --upstream: signed release files and checksums files are written (verified) to a private
    // temporary directory as they pass, and checked there once the bundle has been read.
    const releaseDeliveries: Delivery[] = opts.upstream && manifest.artifacts.some((a) => a.fileSignature || a.checksums)
      ? planDeliveries(manifest.artifacts, reader.metadata)
      : [];
    let releaseFilesChecked: number | undefined;
    const releaseDir = releaseDeliveries.length > 0 ? await mkdtemp(join(tmpdir(), 'airlock-verify-files-')) : undefined;
    const releaseByDigest = new Map<string, Delivery[]>();
    for (const d of releaseDeliveries) releaseByDigest.set(d.digest, [...(releaseByDigest.get(d.digest) ?? []), d]);
    const written = new Set<string>();
    try {
      for await (const entry of reader.blobs()) {
        opts.signal?.throwIfAborted();
        const target = entry.piece ? { digest: entry.piece.digest, size: entry.piece.size } : entry.desc;
        // Where it failed: the file (the volume it came from) and the entry in it (STYLE.md §5).
        const file = entry.volume !== undefined ? (reader.volumes.find((v) => v.number === entry.volume)?.path ?? `volume ${entry.volume}`) : bundleLabel(opts.bundles);
        const label = `${file}, entry ${entry.piece ? pieceEntryName(entry.desc.digest, entry.piece.offset) : blobEntryName(entry.desc.digest)}`;
        emit({ type: 'blob-start', digest: entry.desc.digest, size: target.size });
        try {
          const keep = releaseDir && !entry.piece ? releaseByDigest.get(entry.desc.digest) : undefined;
          const first = keep ? join(releaseDir!, keep[0]!.path) : undefined;
          if (first) await mkdir(dirname(first), { recursive: true });
          await pipeline(entry.body, verifyStream(target, { where: label, onProgress: (n) => emit({ type: 'bytes', bytes: n }) }), first ? createWriteStream(first, { mode: 0o600 }) : sink());
          if (keep && first) {
            for (const d of keep.slice(1)) {
              await mkdir(dirname(join(releaseDir!, d.path)), { recursive: true });
              await copyFile(first, join(releaseDir!, d.path));
            }
            for (const d of keep) written.add(d.path);
          }
          bytes += target.size;
          blobs++;
        } catch (err) {
          if (!isAirlockError(err)) throw err;
          if (err.code !== 'DIGEST_MISMATCH' && err.code !== 'SIZE_MISMATCH') throw err;
          problems.push(err);
          entry.body.resume();
        }
        seen.add(entry.piece ? `${entry.desc.digest}@${entry.piece.offset}` : entry.desc.digest);
        emit({ type: 'blob-done', digest: entry.desc.digest, size: target.size, how: 'copied' });
      }
      if (releaseDir) {
        const have = releaseDeliveries.filter((d) => written.has(d.path));
        try {
          const r = await recheckReleaseFiles(releaseDir, manifest.artifacts, have, logger, opts.signature.keyless?.trustedRootPath);
          releaseFilesChecked = r.signed.length + r.checksums.length;
        } catch (err) {
          if (!isAirlockError(err)) throw err;
          problems.push(err);
        }
      }
    } finally {
      if (releaseDir) await rm(releaseDir, { recursive: true, force: true }).catch(() => {});
    }
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
    await reader.close().catch(() => {});
  }
}
