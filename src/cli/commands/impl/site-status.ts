import { siteStatus } from '../../../ops/index.js';
import { formatAge, formatBytes, parseDuration } from '../../../util/index.js';
import { EXIT } from '../../../errors.js';
import type { CliContext } from '../../context.js';

export async function runSiteStatus(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const maxAge = args['max-age'] !== undefined ? parseDuration(String(args['max-age'])) : undefined;
  const s = await siteStatus({
    ...(args['state-dir'] ? { stateDir: args['state-dir'] as string } : {}),
    ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    ...(args.prometheus ? { prometheusFile: args.prometheus as string } : {}),
  });
  ctx.outJson(s);
  const rows: [string, string][] = [];
  const li = s.lastImport;
  if (li) {
    rows.push(
      ['last import', `${li.finished} (${formatAge(li.ageSeconds)} ago)${li.complete ? '' : ', waiting for more volumes'}`],
      ['bundle', li.bundleId ?? '?'],
      ['signer', li.signer ?? 'unsigned'],
      ['target', li.target],
      ['content', `${li.artifacts} artifact(s), ${li.blobsPushed} blob(s) pushed (${formatBytes(li.bytesPushed)}), ${li.tagsMoved} tag(s) moved`],
    );
  } else {
    rows.push(['last import', 'none succeeded']);
  }
  if (s.newestContent) rows.push(['newest content', `bundle made ${s.newestContent.created} (${formatAge(s.newestContent.ageSeconds)} old)`]);
  rows.push(['imports', `${s.imports} recorded, ${s.failures} failed`]);
  if (s.lastFailure) rows.push(['last failure', `${s.lastFailure.time} ${s.lastFailure.code}: ${s.lastFailure.message}${s.lastFailure.current ? ' (nothing succeeded since)' : ''}`]);
  if (s.maxAgeSeconds !== undefined) rows.push(['fresh', s.stale ? `NO: ${s.staleReason ?? 'stale'}` : `yes (within --max-age ${formatAge(s.maxAgeSeconds)})`]);
  if (s.prometheusFile) rows.push(['prometheus', s.prometheusFile]);
  const width = Math.max(...rows.map(([k]) => k.length));
  ctx.out(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
  if (s.stale) {
    ctx.logger.warn(`stale: ${s.staleReason ?? 'no recent import'}`);
    ctx.exitCode = EXIT.runtime;
  }
}
