import { shortDigest } from '../../../oci/index.js';
import { diffBundles, type DiffSide } from '../../../ops/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';

export async function runDiff(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const r = await diffBundles(String(args.old), String(args.new));
  ctx.outJson(r);
  const side = (label: string, s: DiffSide): string =>
    `${label} ${s.id}  ${s.kind === 'receipt' ? 'receipt' : s.bases.length === 0 ? 'full' : `delta on ${s.bases.length} base(s)`}, ${s.artifacts} artifacts, ${s.blobs} blobs${s.created ? `, ${s.created}` : ''}  (${s.path})`;
  const a = r.artifacts;
  const lines = [
    side('old:', r.old),
    side('new:', r.new),
    '',
    `artifacts: ${a.added.length} added, ${a.removed.length} removed, ${a.changed.length} changed, ${a.unchanged} unchanged`,
  ];
  const width = Math.max(8, ...[...a.added, ...a.removed, ...a.changed].map((x) => x.name.length));
  const from = (x: { origin?: string }): string => (x.origin ? `  (from ${x.origin})` : '');
  for (const x of a.added) lines.push(`  + ${x.kind.padEnd(8)} ${x.name.padEnd(width)}  ${shortDigest(x.digest)}${from(x)}`);
  for (const x of a.removed) lines.push(`  - ${x.kind.padEnd(8)} ${x.name.padEnd(width)}  ${shortDigest(x.digest)}${from(x)}`);
  for (const x of a.changed) lines.push(`  ~ ${x.kind.padEnd(8)} ${x.name.padEnd(width)}  ${shortDigest(x.from)} → ${shortDigest(x.to)}${from(x)}`);
  const b = r.blobs;
  lines.push(
    '',
    `blobs: ${b.added.length} added (${formatBytes(b.bytesAdded)}), ${b.removed.length} removed${r.old.kind === 'bundle' ? ` (${formatBytes(b.bytesRemoved)})` : ''}, ${b.common} in both (${formatBytes(b.bytesCommon)})`,
  );
  if (args.blobs) {
    for (const x of b.added) lines.push(`  + ${x.digest}  ${formatBytes(x.size).padStart(10)}  ${x.mediaType ?? ''}`);
    for (const x of b.removed) lines.push(`  - ${x.digest}${r.old.kind === 'bundle' ? `  ${formatBytes(x.size).padStart(10)}  ${x.mediaType ?? ''}` : ''}`);
  }
  lines.push(`a delta from old to new (export --since old) would carry ${r.delta.blobs} blobs, ${formatBytes(r.delta.bytes)} (${r.delta.bytes} bytes); ${formatBytes(r.delta.bytesLeftOut)} left to old`);
  ctx.out(lines.join('\n'));
}
