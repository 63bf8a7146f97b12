import { shortDigest } from '../../../oci/index.js';
import { importBundle } from '../../../ops/index.js';
import type { RepositoryLayout } from '../../../reference/index.js';
import { formatBytes } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { registryConfigFromFlags } from '../../registry-flags.js';
import { createProgress } from '../../render/progress.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';
import { positive } from './bundle-export.js';

export async function runImport(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const signature = await signaturePolicyFromArgs(args, ctx.logger);
  const dest = await registryConfigFromFlags(args, 'dest', { logger: ctx.logger, registry: String(args.to) });
  const progress = createProgress(ctx, 'import', (e) => {
    if (e.type === 'root-done') return `${e.root.kind.padEnd(8)} ${e.root.repository}${e.root.tag !== undefined ? `:${e.root.tag}` : ''} → ${e.target}@${shortDigest(e.root.desc.digest)}`;
    if (e.type === 'root-waiting') return `waiting  ${e.root.repository}${e.root.tag !== undefined ? `:${e.root.tag}` : ''}: ${e.missing} blob(s) in other volumes`;
    return undefined;
  });
  try {
    const r = await importBundle({
      bundles: args.bundle as string[],
      to: args.to as string,
      layout: (args.layout as RepositoryLayout | undefined) ?? 'flat',
      signature,
      dest,
      dryRun: Boolean(args['dry-run']),
      ...(args['out-dir'] ? { outDir: args['out-dir'] as string } : {}),
      ...(args['state-dir'] ? { stateDir: args['state-dir'] as string } : {}),
      concurrency: positive(args.concurrency, '--concurrency'),
      requireUpstreamSignatures: Boolean(args['require-upstream-signatures']),
      ...(args['sign-key'] ? { signKey: args['sign-key'] as string } : {}),
      pushFiles: Boolean(args['push-files']),
      logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e),
      signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    const lines: string[] = [];
    lines.push(`bundle ${r.bundleId}: signature ${r.signature.verified ? `verified (${r.signature.signer})` : 'NOT verified'}`);
    if (r.dryRun) {
      lines.push(`plan for ${r.target}:`);
      for (const a of r.artifacts) lines.push(`  ${a.kind.padEnd(8)} ${a.source} → ${a.target}`);
      lines.push(`${r.blobsToPush ?? 0} blob(s) to push (${formatBytes(r.bytesToPush ?? 0)}), ${r.blobsAlreadyPresent} already present; nothing was pushed (--dry-run)`);
    } else {
      lines.push(`${r.artifacts.filter((a) => a.status !== 'waiting').length}/${r.artifacts.length} artifacts in ${r.target}: ${r.blobsPushed} blobs pushed (${formatBytes(r.bytesPushed)}), ${r.blobsMounted} mounted, ${r.blobsAlreadyPresent} already there, ${r.manifestsPushed} manifests, ${r.tagsSet} tags in ${(r.durationMs / 1000).toFixed(1)} s`);
      if (r.volumesRemaining.length > 0) lines.push(`waiting for volume(s) ${r.volumesRemaining.join(', ')}: import them to finish`);
      if (r.outDir) lines.push(`image map, mirror configs and receipt in ${r.outDir}`);
      if (r.files && r.files.length > 0) lines.push(`${r.files.length} file(s) delivered under ${r.outDir ?? '.'}/files (checksums in files/SHA256SUMS)`);
    }
    ctx.out(lines.join('\n'));
  } finally {
    progress.stop();
  }
}
