import { shortDigest } from '../../../oci/index.js';
import { inspectBundle } from '../../../ops/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';

export async function runInspect(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const policy = await signaturePolicyFromArgs(args, ctx.logger, { reportOnly: true });
  const r = await inspectBundle(args.bundle as string, policy);
  ctx.outJson(r);
  const s = r.signature;
  const lines = [
    `bundle id:  ${r.bundleId}`,
    `format:     ${r.formatVersion}, made ${r.created} by airlock ${r.tool.version}`,
    `signature:  ${!s.signed ? 'none (unsigned)' : `${s.method ?? ''} ${s.signer ?? '?'} — ${s.verified ? 'verified' : `not verified${s.reason ? ` (${s.reason})` : ''}`}`}`,
    `bases:      ${r.bases.length === 0 ? 'none (full bundle)' : r.bases.map((b) => `${b.id} (${b.kind})`).join(', ')}`,
    ...(r.volumes ? [`volumes:    ${r.volumes.count} of at most ${formatBytes(r.volumes.maxSize)}`] : []),
    '',
  ];
  for (const a of r.artifacts) {
    const extra = [
      a.platforms ? a.platforms.join(',') : '',
      a.upstreamDigest ? `filtered from ${shortDigest(a.upstreamDigest)}` : '',
      a.subject ? `refers to ${shortDigest(a.subject)}` : '',
      a.upstreamSignature ? `vendor-signed (${a.upstreamSignature.signer})` : '',
    ].filter(Boolean).join('; ');
    lines.push(`${a.kind.padEnd(8)} ${a.source.replace(/@sha256:[a-f0-9]{64}$/, '')}  ${shortDigest(a.digest)}  ${formatBytes(a.totalSize ?? a.size)}${extra ? `  (${extra})` : ''}`);
  }
  const t = r.totals;
  lines.push('', `${t.artifacts} artifacts, ${t.blobs} blobs; ${formatBytes(t.bytesIncluded)} included, ${formatBytes(t.bytesFromBases)} from bases, ${formatBytes(t.bytesSavedByDedup)} saved by dedup`);
  ctx.out(lines.join('\n'));
}
