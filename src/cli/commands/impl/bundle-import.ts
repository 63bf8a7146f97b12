import { bundlePaths } from '../../bundle-paths.js';
import { AirlockError } from '../../../errors.js';
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
      ...(Array.isArray(args.values) ? { values: (args.values as unknown[]).map(String) } : {}),
      ...(Array.isArray(args.compose) ? { compose: (args.compose as unknown[]).map(String) } : {}),
      ...pullSecretOption(args, ctx),
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

/**
 * pull-secret.yaml holds the target password, so it is written only when that password did not
 * pass through argv (where `ps` and shell history see it): from --dest-password-stdin or --authfile.
 */
function pullSecretOption(args: Record<string, unknown>, ctx: CliContext): { pullSecret?: { name: string; namespace?: string } } {
  const fromStdin = args['dest-password-stdin'] === true;
  const fromFile = typeof args.authfile === 'string' && args.authfile !== '' && !args['dest-creds'];
  if (!fromStdin && !fromFile) {
    if (args['dest-creds']) ctx.logger.info('pull-secret.yaml is not written: the password came from --dest-creds (argv); use --dest-password-stdin or --authfile');
    return {};
  }
  const name = typeof args['pull-secret-name'] === 'string' && args['pull-secret-name'] ? args['pull-secret-name'] : 'airlock-mirror';
  const namespace = typeof args['pull-secret-namespace'] === 'string' && args['pull-secret-namespace'] ? args['pull-secret-namespace'] : undefined;
  // Kubernetes object names and namespaces: RFC 1123 (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
  for (const [flag, v] of [['--pull-secret-name', name], ['--pull-secret-namespace', namespace]] as const) {
    if (v !== undefined && !(v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v))) {
      throw new AirlockError('USAGE', `${flag} ${v} is not a Kubernetes name`, { hint: 'lower-case letters, digits, - and .; starting and ending with a letter or digit' });
    }
  }
  return { pullSecret: { name, ...(namespace ? { namespace } : {}) } };
}
