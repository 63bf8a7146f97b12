import { basename, join } from 'node:path';
import type { BundleArtifact } from '../bundle/index.js';
import type { MappedArtifact, ReleaseRecord, ReleaseRecordFile } from '../deploy/index.js';
import type { Delivery, ReleaseFilesCheck } from '../files/index.js';
import { hexOf } from '../oci/index.js';
import { writeFileAtomic } from '../util/index.js';

export interface ReleaseRecordInput {
  readonly outDir: string;
  readonly bundleId: string;
  readonly bundleSigner?: string;
  readonly bundleCreated: string;
  readonly target: string;
  readonly host: string;
  readonly artifacts: readonly BundleArtifact[];
  readonly mapped: readonly MappedArtifact[];
  readonly deliveries: readonly Delivery[];
  readonly releaseFiles?: ReleaseFilesCheck;
}

/** `release-record.json`: the delivered files with what vouches for each, and every artifact upstream → mirror. */
export async function writeReleaseRecord(i: ReleaseRecordInput): Promise<string> {
  const files: ReleaseRecordFile[] = [];
  const seen = new Set<string>();
  for (const d of [...i.deliveries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (seen.has(d.path)) continue;
    seen.add(d.path);
    const a = i.artifacts.find((x) => x.source === d.source);
    const signed = i.releaseFiles?.signed.find((s) => s.file === d.path);
    const sums = i.releaseFiles?.checksums.find((c) => c.file === d.path);
    const listedIn = i.releaseFiles?.checksums.filter((c) => c.verified.includes(basename(d.path))).map((c) => c.file) ?? [];
    files.push({
      path: d.path, sha256: hexOf(d.digest), size: d.size, ...(a?.origin ? { origin: a.origin } : {}),
      ...(signed ? { signature: { method: signed.method, signer: signed.signer, ...(signed.issuer ? { issuer: signed.issuer } : {}), ...(signed.signatureFile ? { signatureFile: signed.signatureFile } : {}), checkedAtImport: true } } : {}),
      ...(sums ? { checksums: { verified: sums.verified, missing: sums.missing, unlisted: sums.unlisted } } : {}),
      ...(listedIn.length > 0 ? { listedIn } : {}),
    });
  }
  const record: ReleaseRecord = {
    version: 1, kind: 'airlock-release-record', bundleId: i.bundleId, ...(i.bundleSigner ? { bundleSigner: i.bundleSigner } : {}),
    bundleCreated: i.bundleCreated, imported: new Date().toISOString(), target: i.target, files,
    artifacts: i.mapped.filter((m) => m.kind === 'image' || m.kind === 'chart').map((m) => {
      const a = i.artifacts.find((x) => x.kind === m.kind && x.digest === m.digest && x.repository === `${m.sourceRegistry}/${m.sourceRepository}`);
      const sig = a?.upstreamSignature;
      return {
        kind: m.kind, source: m.source, mirror: `${i.host}/${m.targetRepository}${m.tag !== undefined ? `:${m.tag}` : ''}@${m.digest}`, digest: m.digest, status: m.status,
        ...(sig?.verified ? { vendorSignature: { method: sig.method, signer: sig.signer, ...(sig.issuer ? { issuer: sig.issuer } : {}) } } : {}),
      };
    }),
  };
  await writeFileAtomic(join(i.outDir, 'release-record.json'), `${JSON.stringify(record, null, 2)}\n`);
  return 'release-record.json';
}
