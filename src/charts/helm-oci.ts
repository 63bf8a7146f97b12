import { AirlockError } from '../errors.js';
import { parseYamlData } from '../mirror/index.js';
import {
  ANNOTATION_CREATED, ANNOTATION_DESCRIPTION, ANNOTATION_TITLE, ANNOTATION_VERSION, MEDIA_TYPE_HELM_CHART,
  MEDIA_TYPE_HELM_CONFIG, MEDIA_TYPE_HELM_PROVENANCE, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor,
} from '../oci/index.js';

/**
 * A classic (index.yaml) chart made into the OCI artifact `helm push` makes
 * (https://helm.sh/docs/topics/registries/, helm pkg/registry client.go Push): a config blob that is
 * Chart.yaml as JSON (application/vnd.cncf.helm.config.v1+json), the .tgz as the one layer, the
 * .prov file as a second layer when there is one, and the chart's metadata as manifest
 * annotations. The JSON is written the way Go's encoding/json writes Helm's structs (field order
 * of chart.Metadata, `omitempty`, compact, `<>&` escaped), so the config digest matches what
 * `helm push` of the same .tgz produces. The manifest digest can still differ from a `helm push`
 * of the same chart, because Helm stamps `org.opencontainers.image.created` with the time of the
 * push: here it is the `created` time from the repository's index.yaml, so that exporting one
 * chart version twice gives one digest.
 */
export interface HelmChartArtifact {
  readonly manifest: { readonly desc: Descriptor; readonly bytes: Buffer };
  readonly config: { readonly desc: Descriptor; readonly bytes: Buffer };
  readonly layers: readonly Descriptor[];
  readonly name: string;
  readonly version: string;
}

/** Chart.yaml text → the parsed metadata Helm keeps (the fields of chart.Metadata only). */
export function parseChartYaml(text: string, where: string): Record<string, unknown> {
  const doc = parseYamlData(text, { where, code: 'MANIFEST_INVALID' });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AirlockError('MANIFEST_INVALID', 'Chart.yaml is not a mapping', { where });
  }
  const m = doc as Record<string, unknown>;
  if (typeof m.name !== 'string' || m.name === '' || typeof m.version !== 'string' || m.version === '') {
    throw new AirlockError('MANIFEST_INVALID', 'Chart.yaml lacks name or version', { where, hint: 'this is not a Helm chart' });
  }
  return m;
}

/** Go encoding/json of helm's chart.Metadata (field order and omitempty as declared there). */
export function toHelmConfigJson(meta: Record<string, unknown>): Buffer {
  const out: [string, unknown][] = [];
  const s = (k: string): void => {
    const v = meta[k];
    if (typeof v === 'string' && v !== '') out.push([k, v]);
  };
  const list = (k: string): void => {
    const v = meta[k];
    if (Array.isArray(v)) {
      const xs = v.filter((x): x is string => typeof x === 'string');
      if (xs.length > 0) out.push([k, xs]);
    }
  };
  s('name');
  s('home');
  list('sources');
  s('version');
  s('description');
  list('keywords');
  const maintainers = Array.isArray(meta.maintainers) ? meta.maintainers.filter(isMap) : [];
  if (maintainers.length > 0) {
    out.push(['maintainers', maintainers.map((m) => ordered(m, [['name', 'string'], ['email', 'string'], ['url', 'string']]))]);
  }
  s('icon');
  s('apiVersion');
  s('condition');
  s('tags');
  s('appVersion');
  if (meta.deprecated === 'true' || meta.deprecated === true) out.push(['deprecated', true]);
  if (isMap(meta.annotations)) {
    const a = Object.entries(meta.annotations).filter(([, v]) => typeof v === 'string').sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    if (a.length > 0) out.push(['annotations', Object.fromEntries(a)]);
  }
  s('kubeVersion');
  const deps = Array.isArray(meta.dependencies) ? meta.dependencies.filter(isMap) : [];
  if (deps.length > 0) out.push(['dependencies', deps.map(toDependency)]);
  s('type');
  return Buffer.from(goJson(Object.fromEntries(out)));
}

/** helm chart.Dependency: name and repository always written, the rest omitempty. */
function toDependency(d: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { name: typeof d.name === 'string' ? d.name : '' };
  if (typeof d.version === 'string' && d.version !== '') o.version = d.version;
  o.repository = typeof d.repository === 'string' ? d.repository : '';
  if (typeof d.condition === 'string' && d.condition !== '') o.condition = d.condition;
  if (Array.isArray(d.tags) && d.tags.length > 0) o.tags = d.tags.filter((t) => typeof t === 'string');
  if (d.enabled === 'true' || d.enabled === true) o.enabled = true;
  if (Array.isArray(d['import-values']) && d['import-values'].length > 0) o['import-values'] = d['import-values'];
  if (typeof d.alias === 'string' && d.alias !== '') o.alias = d.alias;
  return o;
}

function ordered(m: Record<string, unknown>, keys: readonly (readonly [string, 'string'])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k] of keys) if (typeof m[k] === 'string' && m[k] !== '') o[k] = m[k];
  return o;
}

/** The manifest annotations `helm push` writes (helm pkg/registry chart.go generateOCIAnnotations). */
export function helmAnnotations(meta: Record<string, unknown>, created: string): Record<string, string> {
  const a: Record<string, string> = {};
  const put = (k: string, v: unknown): void => {
    if (typeof v === 'string' && v.trim() !== '') a[k] = v;
  };
  put(ANNOTATION_DESCRIPTION, meta.description);
  put(ANNOTATION_TITLE, meta.name);
  put(ANNOTATION_VERSION, meta.version);
  put('org.opencontainers.image.url', meta.home);
  put(ANNOTATION_CREATED, created);
  if (Array.isArray(meta.sources) && typeof meta.sources[0] === 'string') put('org.opencontainers.image.source', meta.sources[0]);
  const maintainers = Array.isArray(meta.maintainers) ? meta.maintainers.filter(isMap) : [];
  if (maintainers.length > 0) {
    put('org.opencontainers.image.authors', maintainers.map((m) =>
      `${typeof m.name === 'string' ? m.name : ''}${typeof m.email === 'string' && m.email ? ` (${m.email})` : ''}`).join(', '));
  }
  if (isMap(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) {
      if (k === ANNOTATION_VERSION || k === ANNOTATION_TITLE || typeof v !== 'string') continue;
      a[k] = v;
    }
  }
  return a;
}

export interface BuildHelmArtifactOptions {
  readonly chartYaml: string;
  /** The .tgz as carried. */
  readonly chart: { readonly digest: Descriptor['digest']; readonly size: number };
  readonly prov?: { readonly digest: Descriptor['digest']; readonly size: number };
  /** RFC 3339 time for `org.opencontainers.image.created`. */
  readonly created: string;
  readonly where: string;
}

export function buildHelmArtifact(o: BuildHelmArtifactOptions): HelmChartArtifact {
  const meta = parseChartYaml(o.chartYaml, o.where);
  const configBytes = toHelmConfigJson(meta);
  const config: Descriptor = { mediaType: MEDIA_TYPE_HELM_CONFIG, digest: digestOf(configBytes), size: configBytes.length };
  const layers: Descriptor[] = [{ mediaType: MEDIA_TYPE_HELM_CHART, digest: o.chart.digest, size: o.chart.size }];
  if (o.prov) layers.push({ mediaType: MEDIA_TYPE_HELM_PROVENANCE, digest: o.prov.digest, size: o.prov.size });
  const annotations = helmAnnotations(meta, o.created);
  // Helm 3 marshals ocispec.Manifest without a mediaType field: schemaVersion, config, layers, annotations.
  const sortedAnnotations = Object.fromEntries(Object.entries(annotations).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  const bytes = Buffer.from(goJson({
    schemaVersion: 2,
    config,
    layers,
    ...(Object.keys(sortedAnnotations).length > 0 ? { annotations: sortedAnnotations } : {}),
  }));
  return {
    manifest: { desc: { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length }, bytes },
    config: { desc: config, bytes: configBytes },
    layers,
    name: meta.name as string,
    version: meta.version as string,
  };
}

/** JSON as Go's encoding/json writes it: compact, with <, > and & escaped (HTMLEscape). */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
