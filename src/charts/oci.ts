import { AirlockError } from '../errors.js';
import { verifyStream, type ContentSource } from '../content/index.js';
import { MEDIA_TYPE_HELM_CHART, parseManifest, type Descriptor } from '../oci/index.js';
import { readChartArchive, type ChartFiles } from './archive.js';

const MAX_CHART_BYTES = 512 << 20;

/** The chart layer of a Helm OCI manifest (https://helm.sh/docs/topics/registries/). */
export function helmChartLayer(manifestBytes: Buffer, mediaType: string, where: string): Descriptor {
  const m = parseManifest(manifestBytes, mediaType, where);
  const layer = m.kind === 'manifest' ? m.layers.find((l) => l.mediaType === MEDIA_TYPE_HELM_CHART) : undefined;
  if (!layer) {
    throw new AirlockError('MANIFEST_INVALID', `${where} is not a Helm chart (no ${MEDIA_TYPE_HELM_CHART} layer)`, {
      where, hint: 'charts: lists Helm charts; list other OCI content under images:',
    });
  }
  return layer;
}

/** Fetch (verified while it streams) and read the chart .tgz of an OCI chart. */
export async function readOciChart(src: ContentSource, manifestBytes: Buffer, mediaType: string, where: string, signal?: AbortSignal): Promise<ChartFiles> {
  const layer = helmChartLayer(manifestBytes, mediaType, where);
  if (layer.size > MAX_CHART_BYTES) {
    throw new AirlockError('MANIFEST_INVALID', `the chart layer of ${where} is ${layer.size} bytes`, { where, hint: 'no chart is this large; drop includeImages for it' });
  }
  const body = await src.fetch(layer, signal ? { signal } : {});
  const verified = body.pipe(verifyStream(layer, { where: `chart layer ${layer.digest} of ${where}` }));
  body.on('error', (err) => verified.destroy(err));
  return readChartArchive(verified, where);
}
