import { parseYamlData } from '../mirror/index.js';
import type { ChartFiles } from './archive.js';

/**
 * A dependency a chart names in Chart.yaml (`dependencies:`, https://helm.sh/docs/topics/charts/#chart-dependencies),
 * with the version Chart.lock pinned it to when the chart has one.
 */
export type ChartDependency =
  /** `repository: oci://HOST/PATH`: the chart is `HOST/PATH/NAME`. */
  | { readonly kind: 'oci'; readonly name: string; readonly version: string; readonly repository: string; readonly locked: boolean }
  /** `repository: https://...`: a classic index.yaml repository. */
  | { readonly kind: 'repo'; readonly name: string; readonly version: string; readonly repository: string; readonly locked: boolean }
  /** Nothing to fetch (`file://`, an empty repository: the chart is inside under charts/), or not resolvable offline (`@alias`, `alias:NAME`). */
  | { readonly kind: 'skip'; readonly name: string; readonly repository: string; readonly why: string };

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(text: string | undefined, where: string): Record<string, unknown>[] {
  if (text === undefined) return [];
  const doc = parseYamlData(text, { where, code: 'MANIFEST_INVALID' });
  return isMap(doc) && Array.isArray(doc.dependencies) ? doc.dependencies.filter(isMap) : [];
}

/** The dependencies of a chart (its own Chart.yaml, not its subcharts': those come with their own chart). */
export function chartDependencies(files: ChartFiles, where: string): ChartDependency[] {
  const locked = list(files.chartLock, `${where}: Chart.lock`);
  const out: ChartDependency[] = [];
  for (const d of list(files.chartYaml, `${where}: Chart.yaml`)) {
    const name = typeof d.name === 'string' ? d.name : '';
    const repository = typeof d.repository === 'string' ? d.repository.trim() : '';
    const range = typeof d.version === 'string' ? d.version.trim() : '';
    if (name === '') continue;
    if (repository === '' || repository.startsWith('file://')) {
      out.push({ kind: 'skip', name, repository, why: 'a local chart: it is inside the chart (charts/)' });
      continue;
    }
    if (repository.startsWith('@') || repository.startsWith('alias:')) {
      out.push({ kind: 'skip', name, repository, why: `a repository added by name on the vendor's machine (helm repo add); list the chart under charts: with its URL` });
      continue;
    }
    const lock = locked.find((l) => l.name === name && l.repository === repository && typeof l.version === 'string');
    const version = typeof lock?.version === 'string' ? lock.version : range;
    if (version === '') {
      out.push({ kind: 'skip', name, repository, why: 'no version' });
      continue;
    }
    if (repository.startsWith('oci://')) out.push({ kind: 'oci', name, version, repository: repository.replace(/\/+$/, ''), locked: lock !== undefined });
    else if (/^https?:\/\//.test(repository)) out.push({ kind: 'repo', name, version, repository: repository.replace(/\/+$/, ''), locked: lock !== undefined });
    else out.push({ kind: 'skip', name, repository, why: 'an unknown kind of repository' });
  }
  return out;
}
