import { verifyBundle } from '../../../ops/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { createProgress } from '../../render/progress.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';

export async function runVerify(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const signature = await signaturePolicyFromArgs(args, ctx.logger);
  const progress = createProgress(ctx, 'verify', () => undefined);
  try {
    const r = await verifyBundle({
      bundles: args.bundle as string[], signature, upstream: Boolean(args.upstream), logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e), signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    ctx.out([
      `bundle ${r.bundleId}`,
      `signature: ${r.signature.verified ? `verified (${r.signature.method} ${r.signature.signer})` : `NOT verified (${r.signature.reason ?? 'unsigned'})`}`,
      `${r.blobsChecked} blobs, ${formatBytes(r.bytesChecked)}: every digest matches${r.volumes ? ` (volumes ${r.volumes.given.join(', ')} of ${r.volumes.count})` : ''}`,
      ...(args.upstream ? [`${r.upstreamSignaturesChecked} vendor signature(s) re-verified offline`] : []),
      'OK',
    ].join('\n'));
  } finally {
    progress.stop();
  }
}
