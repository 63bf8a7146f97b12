import { parseDigest, shortDigest } from '../../../oci/index.js';
import { sitePrune, siteRollback } from '../../../ops/index.js';
import { parseReference, parseTarget } from '../../../reference/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { registryConfigFromFlags } from '../../registry-flags.js';
import { positive } from './bundle-export.js';

export async function runSiteRollback(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  // Parsed here, once: the flags need its registry, and siteRollback takes the parsed reference.
  const ref = parseReference(String(args.ref ?? ''), { where: 'REF' });
  const dest = await registryConfigFromFlags(args, 'dest', { logger: ctx.logger, registry: ref.registry });
  const r = await siteRollback({
    ref, dest, dryRun: Boolean(args['dry-run']), logger: ctx.logger, signal: ctx.signal,
    ...(args['state-dir'] ? { stateDir: args['state-dir'] as string } : {}),
    ...(args.digest ? { digest: parseDigest(String(args.digest), '--digest') } : {}),
  });
  ctx.outJson(r);
  ctx.out([
    `${r.dryRun ? 'would roll back' : 'rolled back'} ${r.ref}`,
    `  from ${r.from}`,
    `  to   ${r.to}${r.undoes ? ` (the digest it left at ${r.undoes.time}${r.undoes.historyTag ? `, also tagged ${r.undoes.historyTag}` : ''})` : ''}`,
  ].join('\n'));
}

export async function runSitePrune(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const to = args.to ? parseTarget(String(args.to), '--to') : undefined;
  const dest = await registryConfigFromFlags(args, 'dest', { logger: ctx.logger, ...(args.to ? { registry: String(args.to) } : {}) });
  const r = await sitePrune({
    keep: Number(args.keep), dest, apply: Boolean(args.apply), logger: ctx.logger, signal: ctx.signal,
    concurrency: positive(args.concurrency, '--concurrency'),
    ...(to ? { to } : {}),
    ...(args['state-dir'] ? { stateDir: args['state-dir'] as string } : {}),
  });
  ctx.outJson(r);
  const lines = [
    `target   ${r.target}: keeping the last ${r.keep} bundle import(s) (${r.bundlesKept.length} kept, ${r.bundlesPruned.length} older)`,
  ];
  for (const m of r.delete) {
    lines.push(`${r.applied ? 'deleted ' : 'delete  '} ${m.repository}@${shortDigest(m.digest)}${m.tags.length > 0 ? ` (tags ${m.tags.join(', ')})` : ''}${m.role === 'child' ? ' [in a deleted index]' : ''}`);
  }
  for (const p of r.protected) lines.push(`keep     ${p.repository}@${shortDigest(p.digest)}: ${p.reason}`);
  if (r.delete.length === 0) lines.push('nothing to delete');
  lines.push(`gc       a registry garbage collection can then free ${r.gc.blobs} blob(s), ${formatBytes(r.gc.bytes)}`);
  if (!r.applied && r.delete.length > 0) lines.push('         nothing was deleted: re-run with --apply');
  ctx.out(lines.join('\n'));
}
