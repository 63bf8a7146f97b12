import { inspectBundle } from '../../../ops/index.js';
import type { CliContext } from '../../context.js';
import { formatInspect } from '../../render/bundle-text.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';

export async function runInspect(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const policy = await signaturePolicyFromArgs(args, ctx.logger, { reportOnly: true });
  const r = await inspectBundle(args.bundle as string, policy, { policyPath: args.policy as string | undefined });
  ctx.outJson(r);
  ctx.out(formatInspect(r));
}
