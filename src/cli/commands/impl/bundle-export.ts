import { AirlockError } from '../../../errors.js';
import { parsePlatform, shortDigest } from '../../../oci/index.js';
import { exportBundle } from '../../../ops/index.js';
import { formatBytes, parseSize } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { createProgress } from '../../render/progress.js';
import { registryConfigFromFlags } from '../../registry-flags.js';

export async function runExport(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  if (args.keyless) {
    throw new AirlockError('NOT_IMPLEMENTED', '--keyless signing is not built yet', { hint: 'sign with a key from `airlock keys generate` (--sign-key)' });
  }
  const platforms = ((args.platform as string[] | undefined) ?? []).map((p) => parsePlatform(p, '--platform'));
  const progress = createProgress(ctx, 'export', (e) => {
    if (e.type === 'resolve') return `resolved ${e.ref} → ${shortDigest(e.digest)}`;
    return undefined;
  });
  try {
    const r = await exportBundle({
      files: args.file as string[],
      ...(args.output ? { output: args.output as string } : {}),
      dryRun: Boolean(args['dry-run']),
      ...(args['sign-key'] ? { signKey: args['sign-key'] as string } : {}),
      ...(platforms.length > 0 ? { platforms } : {}),
      ...(args['split-size'] ? { splitSize: parseSize(args['split-size'] as string, '--split-size') } : {}),
      ...(args.cache ? { cacheDir: args.cache as string } : {}),
      concurrency: positive(args.concurrency, '--concurrency'),
      source: await registryConfigFromFlags(args, 'src', { logger: ctx.logger }),
      ...(args.lock ? { lock: args.lock as string } : {}),
      locked: Boolean(args.locked),
      ...(args.since ? { since: args.since as string[] } : {}),
      ...(args['receipt-key'] ? { receiptKeys: args['receipt-key'] as string[] } : {}),
      ...(args['compression-level'] !== undefined ? { compressionLevel: args['compression-level'] as number } : {}),
      logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e),
      signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    const lines: string[] = [];
    for (const a of r.artifacts) {
      lines.push(`${a.kind.padEnd(8)} ${a.source.replace(/@sha256:[a-f0-9]{64}$/, '')}  ${shortDigest(a.digest)}${a.platforms ? `  [${a.platforms.join(', ')}]` : ''}${a.upstreamDigest ? `  (filtered from ${shortDigest(a.upstreamDigest)})` : ''}`);
    }
    lines.push('');
    lines.push(`${r.dryRun ? 'plan' : 'bundle'}: ${r.artifacts.length} artifacts, ${r.blobs} blobs; ${formatBytes(r.bytesBeforeDedup)} before dedup, ${formatBytes(r.bytesAfterDedup)} after, ${formatBytes(r.bytesIncluded)} carried${r.bases.length ? ` (${formatBytes(r.bytesFromBases)} left to ${r.bases.length} base(s))` : ''}`);
    if (r.volumes) for (const v of r.volumes) lines.push(`  volume ${String(v.volume).padStart(3, '0')}: ${v.blobs} blobs, ${formatBytes(v.bytes)}`);
    if (!r.dryRun) {
      lines.push(`bundle id: ${r.bundleId}${r.signed ? ' (signed)' : ' (UNSIGNED)'}`);
      for (const f of r.files) lines.push(`wrote ${f.path} (${formatBytes(f.size)})`);
      lines.push(`downloaded ${formatBytes(r.bytesDownloaded)} in ${(r.durationMs / 1000).toFixed(1)} s`);
    }
    ctx.out(lines.join('\n'));
  } finally {
    progress.stop();
  }
}

export function positive(v: unknown, flag: string): number {
  const n = Number(v ?? 8);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new AirlockError('USAGE', `${flag} must be a whole number from 1 to 256`);
  return n;
}
