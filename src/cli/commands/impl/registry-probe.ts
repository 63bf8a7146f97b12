import { probeRegistry } from '../../../ops/index.js';
import { parseTarget } from '../../../reference/index.js';
import type { CliContext } from '../../context.js';
import { registryConfigFromFlags } from '../../registry-flags.js';

const yes = (b: boolean): string => (b ? 'yes' : 'no');

export async function runProbe(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const target = parseTarget(String(args.registry ?? ''), 'REGISTRY');
  const config = await registryConfigFromFlags(args, 'dest', { logger: ctx.logger, registry: target.host });
  const result = await probeRegistry({ target, dest: config, logger: ctx.logger, signal: ctx.signal });
  ctx.outJson({ version: 1, ...result });
  const rows: [string, string][] = [
    ['registry', `${result.registry} (${result.scheme})`],
    ['auth', `${result.auth}${result.credentialsSource ? ` (credentials from ${result.credentialsSource})` : ''}`],
    ['push', yes(result.push)],
    ['referrers API', result.referrersApi ? 'yes' : 'no (the tag-schema fallback will be used)'],
    ['OCI manifest / index', `${yes(result.ociManifest)} / ${yes(result.ociIndex)}`],
    ['Docker manifest / list', `${yes(result.dockerManifest)} / ${yes(result.dockerManifestList)}`],
    ['OCI artifact with subject', yes(result.ociArtifact)],
    ['cross-repository mount', result.mount ? 'yes' : result.push ? 'no (blobs are uploaded again into each repository)' : 'no'],
    ['repository path depth', result.maxPathDepth !== undefined ? `at most ${result.maxPathDepth} components` : result.push ? `no limit found up to ${result.pathDepthTried}` : 'not tried'],
    ...(result.harbor ? [['Harbor project', `${result.harbor.project}: ${result.harbor.projectExists ? 'exists' : 'missing (create it, or import with --create-projects)'}`] as [string, string]] : []),
    ['monolithic / chunked upload', `${yes(result.monolithicUpload)} / ${yes(result.chunkedUpload)}`],
    ['delete (clean-up)', result.cleanedUp ? 'yes' : `no: probe content left in ${result.repository}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  ctx.out(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  for (const n of result.notes) ctx.logger.info(`note: ${n}`);
}
