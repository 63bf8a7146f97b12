import { bundlePaths } from '../../bundle-paths.js';
import { serveBundle } from '../../../ops/index.js';
import type { RepositoryLayout } from '../../../reference/index.js';
import type { CliContext } from '../../context.js';
import { signaturePolicyFromArgs } from '../../signature-flags.js';

export async function runServe(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const signature = await signaturePolicyFromArgs(args, ctx.logger);
  const h = await serveBundle({
    bundles: bundlePaths(args, ctx.logger),
    listen: args.listen as string,
    layout: (args.layout as RepositoryLayout | undefined) ?? 'flat',
    signature,
    ...(args.cache ? { cacheDir: args.cache as string } : {}),
    ...(args['tls-cert'] ? { tlsCert: args['tls-cert'] as string } : {}),
    ...(args['tls-key'] ? { tlsKey: args['tls-key'] as string } : {}),
    ...(args.htpasswd ? { htpasswd: args.htpasswd as string } : {}),
    logger: ctx.logger,
    signal: ctx.signal,
  });
  ctx.outJson({ version: 1, url: h.url, bundleId: h.bundleId, signature: h.signature, repositories: h.repositories, ...(h.unpacked ? { unpacked: h.unpacked } : {}) });
  const host = h.url.replace(/^https?:\/\//, '');
  const https = h.url.startsWith('https:');
  const lines = [
    `bundle ${h.bundleId}: signature ${h.signature.verified ? `verified (${h.signature.signer ?? '?'})` : 'NOT verified'}`,
    `serving ${h.repositories.length} repositories read-only at ${h.url} (${https ? 'HTTPS' : 'plain HTTP'}${args.htpasswd ? ', Basic auth' : ', no auth'}; writes answer 405)`,
  ];
  for (const r of h.repositories) {
    const tags = r.tags.filter((t) => !/^sha256-[a-f0-9]{64}/.test(t));
    lines.push(`  ${host}/${r.name}${tags.length ? `:${tags.join(',')}` : ''}`);
  }
  const flags = `${https ? '' : '--src-tls-verify=false '}${args.htpasswd ? '--src-creds USER:PASS ' : ''}`;
  lines.push(`pull with e.g. skopeo copy ${flags}docker://${host}/${h.repositories[0]?.name ?? 'REPO'}:TAG ...`, 'press Ctrl-C to stop');
  ctx.out(lines.join('\n'));
  await h.closed;
  ctx.status('stopped');
}
