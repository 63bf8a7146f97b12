import { repairVolumes } from '../../../ops/index.js';
import type { CliContext } from '../../context.js';

export async function runRepair(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const r = await repairVolumes({ files: args.files as string[], dryRun: Boolean(args['dry-run']), signal: ctx.signal });
  ctx.outJson(r);
  const lines = [`bundle   ${r.bundleId}`, `set      ${r.k} volume(s) + ${r.m} parity volume(s): ${r.intact.length} intact`];
  for (const d of r.damaged) lines.push(`damaged  ${d.path} (${d.problem === 'missing' ? 'missing' : d.problem === 'size' ? 'wrong size' : 'sha256 differs'})`);
  for (const p of r.rebuilt) lines.push(`rebuilt  ${p} (sha256 as recorded)`);
  if (r.damaged.length === 0) lines.push('OK: nothing to repair');
  else if (r.dryRun) lines.push(r.damaged.length <= r.m ? 'repairable: run again without --dry-run' : `NOT repairable: more than ${r.m} file(s) damaged`);
  else lines.push('repaired: run `airlock bundle verify` on the volumes');
  ctx.out(lines.join('\n'));
  if (r.dryRun && r.damaged.length > 0) ctx.exitCode = 3;
}
