import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, ioError } from '../errors.js';
import type { BundleArtifact } from '../bundle/index.js';
import { verifyStream } from '../content/index.js';
import {
  MEDIA_TYPE_HELM_CHART, MEDIA_TYPE_HELM_PROVENANCE, hexOf, parseManifest, type Descriptor, type Digest,
} from '../oci/index.js';
import { writeFileAtomic } from '../util/index.js';

/** One blob to write under the import's out-dir. */
export interface Delivery {
  readonly digest: Digest;
  readonly size: number;
  /** Relative to out-dir, `/`-separated: `files/NAME` or `files/charts/NAME.tgz`. */
  readonly path: string;
  /** The artifact it belongs to (airlock.json `source`). */
  readonly source: string;
}

/** What deliverBlobs wrote, by path. */
export interface DeliveryTracker {
  readonly delivered: Set<string>;
}

/**
 * Which blobs of a bundle are delivered as files (docs/deploy-outputs.md, `files/`): the
 * layer of every file artifact under its name, and the .tgz (and .prov) of every chart that came
 * from a classic repository under `files/charts/`. Read from the signed front of the bundle.
 */
export function planDeliveries(artifacts: readonly BundleArtifact[], metadata: ReadonlyMap<Digest, Buffer>): Delivery[] {
  const out: Delivery[] = [];
  for (const a of artifacts) {
    if (!a.fileName || (a.kind !== 'file' && a.kind !== 'chart')) continue;
    const bytes = metadata.get(a.digest);
    if (!bytes) {
      throw new AirlockError('BUNDLE_INCOMPLETE', `the manifest ${a.digest} of ${a.source} is not in the bundle`, {
        where: a.source, hint: 'the bundle is truncated or was altered: copy it again and run `airlock bundle verify`',
      });
    }
    const m = parseManifest(bytes, a.mediaType, a.source);
    if (m.kind !== 'manifest') continue;
    if (a.kind === 'file') {
      const layer = m.layers[0];
      if (layer) out.push({ digest: layer.digest, size: layer.size, path: `files/${a.fileName}`, source: a.source });
      continue;
    }
    const chart = m.layers.find((l) => l.mediaType === MEDIA_TYPE_HELM_CHART);
    const prov = m.layers.find((l) => l.mediaType === MEDIA_TYPE_HELM_PROVENANCE);
    if (chart) out.push({ digest: chart.digest, size: chart.size, path: `files/charts/${a.fileName}`, source: a.source });
    if (prov) out.push({ digest: prov.digest, size: prov.size, path: `files/charts/${a.fileName}.prov`, source: a.source });
  }
  return out;
}

/**
 * Pass a bundle's blob entries through, writing the ones to deliver under `outDir` on the way:
 * each is verified against its digest while it streams to a temporary name, renamed into place
 * when whole, and handed on (from the delivered file) to whatever consumes the entries next.
 */
export async function* deliverBlobs(
  blobs: AsyncIterable<{ readonly desc: Descriptor; readonly body: Readable }>,
  deliveries: readonly Delivery[],
  outDir: string,
  tracker: DeliveryTracker,
): AsyncIterable<{ readonly desc: Descriptor; readonly body: Readable }> {
  const byDigest = new Map<Digest, Delivery[]>();
  for (const d of deliveries) byDigest.set(d.digest, [...(byDigest.get(d.digest) ?? []), d]);
  for await (const entry of blobs) {
    const wanted = byDigest.get(entry.desc.digest);
    if (!wanted) {
      yield entry;
      continue;
    }
    const first = join(outDir, wanted[0]!.path);
    await mkdir(dirname(first), { recursive: true });
    const tmp = join(dirname(first), `.${hexOf(entry.desc.digest).slice(0, 16)}.${randomUUID()}.tmp`);
    try {
      await pipeline(entry.body, verifyStream(entry.desc, { where: `${wanted[0]!.path} (${wanted[0]!.source})` }), createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      await rename(tmp, first);
      for (const d of wanted.slice(1)) {
        const p = join(outDir, d.path);
        await mkdir(dirname(p), { recursive: true });
        await copyFile(first, p);
      }
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw err instanceof AirlockError ? err : ioError(err, 'deliver', first);
    }
    for (const d of wanted) tracker.delivered.add(d.path);
    yield { desc: entry.desc, body: createReadStream(first, { highWaterMark: 1 << 20 }) };
  }
}

/**
 * `files/SHA256SUMS` (`sha256sum -c` format, run from `files/`) for every delivered file present
 * with its expected size. Returns the number of files listed.
 */
export async function writeDeliveryChecksums(outDir: string, deliveries: readonly Delivery[]): Promise<number> {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const d of [...deliveries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (seen.has(d.path)) continue;
    seen.add(d.path);
    const s = await stat(join(outDir, d.path)).catch(() => undefined);
    if (s?.isFile() && s.size === d.size) lines.push(`${hexOf(d.digest)}  ${d.path.slice('files/'.length)}\n`);
  }
  if (lines.length === 0) return 0;
  await mkdir(join(outDir, 'files'), { recursive: true });
  await writeFileAtomic(join(outDir, 'files', 'SHA256SUMS'), lines.join(''));
  return lines.length;
}
