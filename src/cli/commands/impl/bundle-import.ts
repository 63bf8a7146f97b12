import { bundlePaths } from '../../bundle-paths.js';
import { importBundle } from '../../../ops/index.js';
import type { RepositoryLayout } from '../../../reference/index.js';
import type { CliContext } from '../../context.js';
import { registryConfigFromFlags } from '../../registry-flags.js';
import { formatImportSummary, importedLine } from '../../render/bundle-text.js';
import { createProgress } from '../../render/progress.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';
import { positive } from './bundle-export.js';

export async function runImport(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const signature = await signaturePolicyFromArgs(args, ctx.logger);
  const dest = await registryConfigFromFlags(args, 'dest', { logger: ctx.logger, registry: String(args.to) });
  const progress = createProgress(ctx, 'import', (e) => {
    if (e.type === 'root-done') return importedLine(e.root.kind, `${e.root.repositoryPath}${e.root.tag !== undefined ? `:${e.root.tag}` : ''}`, e.target ?? '', e.root.desc.digest);
    if (e.type === 'root-waiting') return `waiting  ${e.root.repository}${e.root.tag !== undefined ? `:${e.root.tag}` : ''}: ${e.missing} blob(s) in other volumes`;
    return undefined;
  });
  try {
    const r = await importBundle({
      bundles: bundlePaths(args, ctx.logger),
      to: args.to as string,
      layout: (args.layout as RepositoryLayout | undefined) ?? 'flat',
      signature,
      dest,
      dryRun: Boolean(args['dry-run']),
      ...(args['out-dir'] ? { outDir: args['out-dir'] as string } : {}),
      ...(args['state-dir'] ? { stateDir: args['state-dir'] as string } : {}),
      concurrency: positive(args.concurrency, '--concurrency'),
      requireUpstreamSignatures: Boolean(args['require-upstream-signatures']),
      ...(args.policy ? { policyPath: args.policy as string } : {}),
      ...(args['sign-key'] ? { signKey: args['sign-key'] as string } : {}),
      pushFiles: Boolean(args['push-files']),
      createProjects: Boolean(args['create-projects']),
      keepPreviousTags: Boolean(args['keep-previous-tags']),
      logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e),
      signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    ctx.out(formatImportSummary(r));
  } finally {
    progress.stop();
  }
}
