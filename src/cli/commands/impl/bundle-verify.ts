import { bundlePaths } from '../../bundle-paths.js';
import { verifyBundle } from '../../../ops/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { signatureLines, toolLines } from '../../render/bundle-text.js';
import { createProgress } from '../../render/progress.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';

export async function runVerify(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const signature = await signaturePolicyFromArgs(args, ctx.logger);
  const progress = createProgress(ctx, 'verify', () => undefined);
  try {
    const r = await verifyBundle({
      bundles: bundlePaths(args, ctx.logger), signature, upstream: Boolean(args.upstream), logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e), onStart: (t) => progress.setTotal(t.bytes), signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    ctx.out([
      `bundle   ${r.bundleId}`,
      ...signatureLines(r.signature),
      `blobs    ${r.blobsChecked} (${formatBytes(r.bytesChecked)}): every digest matches${r.volumes ? ` (volumes ${r.volumes.given.join(', ')} of ${r.volumes.count})` : ''}`,
      ...(args.upstream ? [`vendor   ${r.upstreamSignaturesChecked} signature(s) re-verified offline`] : []),
      ...(r.tool ? toolLines(r.tool) : []),
      'OK',
    ].join('\n'));
  } finally {
    progress.stop();
  }
}
