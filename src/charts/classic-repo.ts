import semver from 'semver';
import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { NOOP_LOGGER } from '../log.js';
import type { LayoutStore } from '../layout/index.js';
import { parseYamlData } from '../mirror/index.js';
import { digestFromHex, isDigest, type Digest } from '../oci/index.js';
import { readUrl } from '../registry/index.js';
import { redactUrl } from '../util/index.js';
import { ingestUrl, type CarriedArtifact, type HostSettings } from '../files/index.js';
import { readChartArchive, type ChartFiles } from './archive.js';
import { buildHelmArtifact } from './helm-oci.js';
import { findChartImages, type ChartImage } from './images.js';

/** One version of a chart in a repository's index.yaml (https://helm.sh/docs/topics/chart_repository/#the-index-file). */
export interface ChartIndexEntry {
  readonly name: string;
  readonly version: string;
  readonly urls: readonly string[];
  /** sha256 of the .tgz, as listed (hex); absent in some hand-made indexes. */
  readonly digest?: string;
  readonly created?: string;
}

const MAX_INDEX_BYTES = 64 << 20;
const MAX_CHART_BYTES = 512 << 20;
const MAX_PROV_BYTES = 1 << 20;

/** Parse an index.yaml and list the versions of `name`. */
export function parseRepositoryIndex(text: string, name: string, where: string): ChartIndexEntry[] {
  const doc = parseYamlData(text, { where, code: 'MANIFEST_INVALID' });
  const entries = isMap(doc) && isMap(doc.entries) ? doc.entries : undefined;
  if (!entries) throw new AirlockError('MANIFEST_INVALID', 'index.yaml has no `entries:` mapping', { where, hint: 'this is not a Helm chart repository index' });
  const list = entries[name];
  if (!Array.isArray(list)) return [];
  return list.filter(isMap).flatMap((e) => {
    const version = typeof e.version === 'string' ? e.version : undefined;
    const urls = Array.isArray(e.urls) ? e.urls.filter((u): u is string => typeof u === 'string' && u !== '') : [];
    if (!version || urls.length === 0) return [];
    return [{
      name, version, urls,
      ...(typeof e.digest === 'string' && e.digest !== '' ? { digest: e.digest.toLowerCase() } : {}),
      ...(typeof e.created === 'string' && e.created !== '' ? { created: e.created } : {}),
    }];
  });
}

/** The highest version satisfying `range` (an exact version is a range too); prereleases only when the range names one. */
export function selectChartVersion(entries: readonly ChartIndexEntry[], range: string): ChartIndexEntry | undefined {
  const valid = entries.filter((e) => semver.valid(e.version) !== null);
  const best = semver.maxSatisfying(valid.map((e) => e.version), range);
  return best === null ? undefined : valid.find((e) => e.version === best);
}

/** A repository-like name for a classic chart: `host[:port]/path/name`, lowercase, valid path components. */
export function classicChartRepository(repoUrl: string, name: string): { registry: string; repositoryPath: string } {
  const u = new URL(repoUrl);
  const parts = [...u.pathname.split('/'), name]
    .map((p) => p.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, ''))
    .filter((p) => p !== '');
  return { registry: u.host.toLowerCase(), repositoryPath: parts.join('/') };
}

export interface ClassicChartEntry {
  readonly repoUrl: string;
  readonly name: string;
  readonly version: string;
  readonly where: string;
}

export interface ResolveClassicChartOptions {
  readonly cache: LayoutStore;
  readonly hostSettings?: (host: string) => HostSettings | undefined;
  /** Also scan the chart for the images it names. */
  readonly includeImages?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

export interface ResolvedClassicChart {
  readonly artifact: CarriedArtifact;
  readonly images: readonly ChartImage[];
  /** The .tgz URL it came from. */
  readonly url: string;
  /** The chart's text files (Chart.yaml, Chart.lock, values, templates). */
  readonly files: ChartFiles;
}

/**
 * A `repo:` chart: read index.yaml, pick the highest version in range, download the .tgz (and its
 * .prov if the server has one) into the cache checking the digest the index lists, and make the
 * OCI artifact `helm push` would make of it.
 */
export async function resolveClassicChart(entry: ClassicChartEntry, o: ResolveClassicChartOptions): Promise<ResolvedClassicChart> {
  const logger = o.logger ?? NOOP_LOGGER;
  const base = `${entry.repoUrl.replace(/\/+$/, '')}/`;
  const settings = (url: string): HostSettings => o.hostSettings?.(new URL(url).host) ?? {};
  const sig = o.signal ? { signal: o.signal } : {};
  const indexUrl = new URL('index.yaml', base).toString();
  const indexText = (await readUrl(indexUrl, { where: entry.where, maxBytes: MAX_INDEX_BYTES, ...settings(indexUrl), ...sig })).toString('utf8');
  const versions = parseRepositoryIndex(indexText, entry.name, `${redactUrl(indexUrl)}`);
  if (versions.length === 0) {
    throw new AirlockError('NOT_FOUND', `chart ${entry.name} is not in ${redactUrl(indexUrl)}`, { where: entry.where, hint: 'check `name:` against the repository index' });
  }
  const chosen = selectChartVersion(versions, entry.version);
  if (!chosen) {
    const have = versions.map((v) => v.version).slice(0, 8).join(', ');
    throw new AirlockError('NOT_FOUND', `no version of chart ${entry.name} in ${redactUrl(base)} matches ${entry.version}`, { where: entry.where, hint: `the index lists ${have}` });
  }
  const tgzUrl = new URL(chosen.urls[0]!, base).toString();
  let expected: Digest | undefined;
  if (chosen.digest !== undefined) {
    const d = `sha256:${chosen.digest}`;
    if (!isDigest(d)) throw new AirlockError('MANIFEST_INVALID', `index.yaml lists an invalid digest for ${entry.name} ${chosen.version}`, { where: redactUrl(indexUrl) });
    expected = digestFromHex(chosen.digest);
  } else {
    logger.warn(`${entry.where}: index.yaml lists no digest for ${entry.name} ${chosen.version}; carrying what ${redactUrl(tgzUrl)} serves unchecked`);
  }
  const what = `chart ${entry.name} ${chosen.version}`;
  const chart = await ingestUrl(tgzUrl, {
    cache: o.cache, where: entry.where, what, expectedFrom: redactUrl(indexUrl), maxBytes: MAX_CHART_BYTES,
    ...(expected ? { expected } : {}), ...settings(tgzUrl), ...sig,
  });
  // Helm looks for the provenance file next to the chart (`helm verify`, https://helm.sh/docs/topics/provenance/).
  const prov = await ingestUrl(`${tgzUrl}.prov`, { cache: o.cache, where: entry.where, what: `${what} provenance`, maxBytes: MAX_PROV_BYTES, ...settings(tgzUrl), ...sig })
    .catch((err: unknown) => {
      if (err instanceof AirlockError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    });
  const files = await readChartArchive(await o.cache.fetch({ digest: chart.digest }), `${what} (${redactUrl(tgzUrl)})`);
  if (files.chartYaml === undefined) throw new AirlockError('MANIFEST_INVALID', `${redactUrl(tgzUrl)} holds no Chart.yaml`, { where: entry.where });
  const helm = buildHelmArtifact({
    chartYaml: files.chartYaml, chart, ...(prov ? { prov } : {}),
    created: normaliseCreated(chosen.created), where: `${what}: Chart.yaml`,
  });
  if (helm.name !== entry.name || helm.version !== chosen.version) {
    throw new AirlockError('MANIFEST_INVALID', `${redactUrl(tgzUrl)} holds chart ${helm.name} ${helm.version}, not ${entry.name} ${chosen.version}`, {
      where: entry.where, hint: 'the repository index and the chart disagree; report it to the repository owner',
    });
  }
  const { registry, repositoryPath } = classicChartRepository(entry.repoUrl, entry.name);
  const fileName = tgzUrl.split('/').pop()?.split('?')[0] || `${entry.name}-${chosen.version}.tgz`;
  return {
    artifact: {
      kind: 'chart', repository: `${registry}/${repositoryPath}`, registry, repositoryPath,
      // OCI tags cannot hold `+`: Helm pushes 1.2.3+build as 1.2.3_build.
      tag: chosen.version.replace(/\+/g, '_'),
      manifest: helm.manifest, config: helm.config, layers: helm.layers,
      fileName: /^[^/\\]+\.tgz$/.test(fileName) ? fileName : `${entry.name}-${chosen.version}.tgz`,
      origin: redactUrl(tgzUrl), where: entry.where,
    },
    images: o.includeImages ? findChartImages(files, what) : [],
    url: redactUrl(tgzUrl),
    files,
  };
}

/** index.yaml's `created` as RFC 3339 in UTC, second precision (what Helm writes in the annotation). */
function normaliseCreated(created: string | undefined): string {
  const t = created ? Date.parse(created) : NaN;
  return Number.isNaN(t) ? '1970-01-01T00:00:00Z' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
