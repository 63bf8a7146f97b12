import { AirlockError } from '../../../errors.js';
import { parsePlatform, shortDigest } from '../../../oci/index.js';
import { exportBundle } from '../../../ops/index.js';
import { parseSize } from '../../../util/index.js';
import type { CliContext } from '../../context.js';
import { formatExportSummary } from '../../render/bundle-text.js';
import { createProgress } from '../../render/progress.js';
import { registryConfigFromFlags, sourceCredentialsFromFlags } from '../../registry-flags.js';
import { resolveToolToCarry } from '../../tool.js';

export async function runExport(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const platforms = ((args.platform as string[] | undefined) ?? []).map((p) => parsePlatform(p, '--platform'));
  const includeTool = args['include-tool'] ? await resolveToolToCarry(ctx.logger) : undefined;
  const progress = createProgress(ctx, 'export', (e) => {
    if (e.type === 'resolve') return `resolved ${shortDigest(e.digest).slice(7)}  ${e.ref}`;
    return undefined;
  });
  try {
    const r = await exportBundle({
      files: args.file as string[],
      ...(args.output ? { output: args.output as string } : {}),
      dryRun: Boolean(args['dry-run']),
      ...(args['sign-key'] ? { signKey: args['sign-key'] as string } : {}),
      ...(args.keyless ? {
        keyless: {
          ...(args['identity-token'] ? { identityTokenPath: args['identity-token'] as string } : {}),
          ...(args['fulcio-url'] ? { fulcioUrl: httpUrl(args['fulcio-url'], '--fulcio-url') } : {}),
          ...(args['rekor-url'] ? { rekorUrl: httpUrl(args['rekor-url'], '--rekor-url') } : {}),
          // @sigstore/sign appends /api/v1/timestamp; cosign's --timestamp-server-url names the whole endpoint.
          ...(args['tsa-url'] ? { tsaUrl: httpUrl(args['tsa-url'], '--tsa-url').replace(/\/api\/v1\/timestamp$/, '') } : {}),
        },
      } : {}),
      ...(args['trusted-root'] ? { trustedRoot: args['trusted-root'] as string } : {}),
      ...(platforms.length > 0 ? { platforms } : {}),
      ...(args['split-size'] ? { splitSize: parseSize(args['split-size'] as string, '--split-size') } : {}),
      ...(args.parity !== undefined ? { parity: Number(args.parity) } : {}),
      ...(typeof args.cache === 'string' ? { cacheDir: args.cache } : {}),
      ...(args.cache === false ? { noCache: true } : {}),
      concurrency: positive(args.concurrency, '--concurrency'),
      source: await registryConfigFromFlags(args, 'src', { logger: ctx.logger }),
      sourceCredentials: await sourceCredentialsFromFlags(args, { logger: ctx.logger }),
      ...(args.lock ? { lock: args.lock as string } : {}),
      locked: Boolean(args.locked),
      ...(args.since ? { since: args.since as string[] } : {}),
      ...(args['receipt-key'] ? { receiptKeys: args['receipt-key'] as string[] } : {}),
      ...(args['compression-level'] !== undefined ? { compressionLevel: args['compression-level'] as number } : {}),
      ...(includeTool ? { includeTool } : {}),
      logger: ctx.logger,
      onEvent: (e) => progress.onEvent(e),
      signal: ctx.signal,
    });
    progress.stop();
    ctx.outJson(r);
    ctx.out(formatExportSummary(r));
  } finally {
    progress.stop();
  }
}

export function positive(v: unknown, flag: string): number {
  const n = Number(v ?? 8);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new AirlockError('USAGE', `${flag} must be a whole number from 1 to 256`);
  return n;
}

function httpUrl(v: unknown, flag: string): string {
  const s = String(v);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new AirlockError('USAGE', `${flag} is not a URL: ${s}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new AirlockError('USAGE', `${flag} must be an http(s) URL: ${s}`);
  return s.replace(/\/+$/, '');
}
