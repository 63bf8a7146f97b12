import { listChartImages } from '../../../ops/index.js';
import type { CliContext } from '../../context.js';

export async function runChartImages(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const path = String(args.chart ?? '');
  const images = await listChartImages(path);
  ctx.outJson({
    version: 1,
    chart: path,
    images: images.map((i) => ({
      ref: i.ref, file: i.file,
      ...(i.valuesPath !== undefined ? { valuesPath: i.valuesPath } : {}),
      ...(i.tagFromAppVersion ? { tagFromAppVersion: true } : {}),
    })),
  });
  ctx.out(images.map((i) => i.ref).join('\n'));
  if (images.some((i) => i.tagFromAppVersion)) ctx.logger.info('some image blocks have no tag: the chart\'s appVersion was used, as most charts\' templates do');
  ctx.logger.info('names computed in templates ({{ ... }}) are not listed: check `helm template` output for those');
}
