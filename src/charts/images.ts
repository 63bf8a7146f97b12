import { AirlockError } from '../errors.js';
import { parseYamlData } from '../mirror/index.js';
import { formatReference, parseReference, type Reference } from '../reference/index.js';
import type { ChartFiles } from './archive.js';

/** An image reference a chart names, and where it was found. */
export interface ChartImage {
  /** Normalised reference (`docker.io/library/nginx:1.27`), as export mirrors it. */
  readonly ref: string;
  readonly reference: Reference;
  /** Where: `values.yaml` or a template path. */
  readonly file: string;
  /**
   * values.yaml only: the dotted path of the image block or string (`image`, `extraImages[0]`,
   * `sidecar.image`). Import writes digest-pinned values at this path.
   */
  readonly valuesPath?: string;
  /** The block gave no tag and the chart's appVersion was used (Helm charts' common default). */
  readonly tagFromAppVersion?: boolean;
}

/**
 * The images a chart names, found without rendering it (no Helm, no template engine):
 *
 * - values.yaml (chart and subcharts): maps with `repository` plus `tag`, `digest` or `registry`
 *   (the `image.registry/image.repository/image.tag/image.digest` convention, at any depth and in
 *   lists); and string values of keys named `image` or ending in `Image` (`image: repo:tag`).
 *   An image block without a tag takes the chart's appVersion, as most charts' templates do.
 * - templates: `image:` lines whose value is a literal (no `{{ }}`).
 *
 * What it cannot see: names computed in templates (`{{ .Values.x }}-{{ .Chart.AppVersion }}`,
 * `printf`, helpers in `_helpers.tpl`), `global.imageRegistry` overrides applied at install time,
 * images named under other keys (`command:` args, ConfigMaps, CRDs' own fields), and anything an
 * operator pulls at run time. Duplicates are listed once, sorted by reference.
 */
export function findChartImages(files: ChartFiles, where: string): ChartImage[] {
  const found = new Map<string, ChartImage>();
  const add = (img: ChartImage): void => {
    if (!found.has(img.ref)) found.set(img.ref, img);
  };
  const appVersions = appVersionsOf(files, where);
  for (const [path, text] of files.values) {
    const doc = parseYamlData(text, { where: `${where}: ${path}`, code: 'MANIFEST_INVALID' });
    const base = path.slice(0, Math.max(0, path.lastIndexOf('/')));
    const appVersion = appVersions.get(base);
    walkValues(doc, '', (valuesPath, written, tagFromAppVersion) => {
      const reference = tryParse(written);
      if (!reference) return;
      add({
        ref: formatReference(reference), reference, file: path,
        ...(path === 'values.yaml' ? { valuesPath } : {}),
        ...(tagFromAppVersion ? { tagFromAppVersion } : {}),
      });
    }, appVersion);
  }
  for (const [path, text] of files.templates) {
    for (const written of literalTemplateImages(text)) {
      const reference = tryParse(written);
      if (reference) add({ ref: formatReference(reference), reference, file: path });
    }
  }
  return [...found.values()].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}

type Found = (valuesPath: string, written: string, tagFromAppVersion: boolean) => void;

function walkValues(node: unknown, path: string, found: Found, appVersion: string | undefined): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => walkValues(v, `${path}[${i}]`, found, appVersion));
    return;
  }
  if (!isMap(node)) return;
  const block = imageBlock(node, appVersion);
  if (block) {
    found(path, block.written, block.tagFromAppVersion);
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    const p = path ? `${path}.${k}` : k;
    if (typeof v === 'string' && (k === 'image' || /.Image$/.test(k)) && looksLikeImage(v)) found(p, v.trim(), false);
    else walkValues(v, p, found, appVersion);
  }
}

/** `{registry?, repository, tag?, digest?}` → a reference string. */
function imageBlock(m: Record<string, unknown>, appVersion: string | undefined): { written: string; tagFromAppVersion: boolean } | undefined {
  const repository = str(m.repository);
  if (!repository || !(('tag' in m) || ('digest' in m) || ('registry' in m))) return undefined;
  if (repository.includes('://') || repository.includes('{{')) return undefined;
  const registry = str(m.registry);
  let tag = str(m.tag);
  const digest = str(m.digest);
  let tagFromAppVersion = false;
  if (!tag && !digest && appVersion) {
    tag = appVersion;
    tagFromAppVersion = true;
  }
  // A repository that already carries a tag (`repository: nginx:1.27`) keeps it.
  const hasTag = /:[^/]+$/.test(repository);
  const written = `${registry ? `${registry.replace(/\/+$/, '')}/` : ''}${repository}${tag && !hasTag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { written, tagFromAppVersion };
}

function appVersionsOf(files: ChartFiles, where: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [base, text] of files.chartYamls) {
    // Chart.yaml only lends its appVersion as a default tag here: one that does not parse (plain
    // scalars holding ": " are common in descriptions) costs that default, not the scan.
    let doc: unknown;
    try {
      doc = parseYamlData(text, { where: `${where}: ${base ? `${base}/` : ''}Chart.yaml`, code: 'MANIFEST_INVALID' });
    } catch {
      continue;
    }
    if (isMap(doc) && typeof doc.appVersion === 'string' && doc.appVersion !== '') out.set(base, doc.appVersion);
  }
  return out;
}

/** `image: "registry/repo:tag"` lines in a template whose value has no template action. */
export function literalTemplateImages(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:-\s+)?image:\s*(.+?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[1]!.replace(/\s+#.*$/, '');
    if (v.includes('{{')) continue;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    if (looksLikeImage(v)) out.push(v);
  }
  return out;
}

function looksLikeImage(v: string): boolean {
  const s = v.trim();
  return s.length > 0 && s.length < 512 && !/[\s{}$]/.test(s) && !s.includes('://');
}

function tryParse(written: string): Reference | undefined {
  try {
    const ref = parseReference(written);
    return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
  } catch (err) {
    if (err instanceof AirlockError) return undefined;
    throw err;
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}
