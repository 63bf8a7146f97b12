import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  buildHelmArtifact, classicChartRepository, findChartImages, literalTemplateImages, parseRepositoryIndex, readChart,
  selectChartVersion, toHelmConfigJson,
} from '../../../src/charts/index.js';
import { MEDIA_TYPE_HELM_CHART, MEDIA_TYPE_HELM_CONFIG, MEDIA_TYPE_HELM_PROVENANCE, digestFromHex, digestOf } from '../../../src/oci/index.js';
import { chartFiles } from '../../../fixtures/generate/helm.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';

const REPO = fileURLToPath(new URL('../../../../fixtures/charts/repo/', import.meta.url));
const PLACEHOLDER = 'upstream.airlock.test';

describe('chart images', () => {
  it('lists exactly the images the small fixtures chart declares (values blocks, lists, template literal)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-chart-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    // The same spec fixtures/generate/catalog.ts uses for charts/demo:0.1.0.
    const images = ['demo/app:1.0', 'demo/app-api:1.0', 'demo/worker:1.0'];
    for (const f of chartFiles({ kind: 'chart', name: 'charts/demo', chartName: 'demo', version: '0.1.0', appVersion: '1.0', images }, PLACEHOLDER)) {
      await mkdir(join(dir, 'demo', f.path, '..'), { recursive: true });
      await writeFile(join(dir, 'demo', f.path), f.text);
    }
    const found = findChartImages(await readChart(join(dir, 'demo')), 'demo');
    assert.deepEqual(found.map((i) => i.ref), images.map((i) => `${PLACEHOLDER}/${i}`).sort());
    assert.deepEqual(found.map((i) => i.valuesPath), ['extraImages[0]', 'image', undefined]);
  });

  it('reads a packed chart: every shape, appVersion as the default tag, "1.10" kept as written, computed names left out', async () => {
    const found = findChartImages(await readChart(join(REPO, 'hello-0.2.0.tgz')), 'hello');
    assert.deepEqual(found.map((i) => i.ref), [
      `${PLACEHOLDER}/hello/exporter:0.9`, `${PLACEHOLDER}/hello/helper:1.10`, `${PLACEHOLDER}/hello/server:1.1`, `${PLACEHOLDER}/hello/wait:2.0`,
    ]);
    assert.equal(found.find((i) => i.ref.includes('server'))?.tagFromAppVersion, true);
    assert.ok(!found.some((i) => i.ref.includes('computed')));
  });

  it('template literals: quoted, list items, comments; templated values skipped', () => {
    const text = [
      '  image: nginx:1.27',
      "  - image: 'ghcr.io/org/app@sha256:" + 'a'.repeat(64) + "'",
      '    image: "quay.io/x/y:2" # pinned',
      '    image: "{{ .Values.image }}"',
      '    image: {{ include "img" . }}',
    ].join('\n');
    assert.deepEqual(literalTemplateImages(text), ['nginx:1.27', `ghcr.io/org/app@sha256:${'a'.repeat(64)}`, 'quay.io/x/y:2']);
  });

  it('refuses what is not a chart archive', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-chart-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'x.tgz'), 'not gzip at all');
    await assertRejectsCode(readChart(join(dir, 'x.tgz')), 'MANIFEST_INVALID');
    await assertRejectsCode(readChart(dir), 'USAGE');
  });
});

describe('classic repository index', () => {
  it('picks the highest version in range; prereleases only when asked', async () => {
    const entries = parseRepositoryIndex(await readFile(join(REPO, 'index.yaml'), 'utf8'), 'hello', 'index.yaml');
    assert.deepEqual(entries.map((e) => e.version), ['1.0.0', '0.2.0', '0.1.0']);
    assert.equal(selectChartVersion(entries, '>=0.1.0 <1.0.0')?.version, '0.2.0');
    assert.equal(selectChartVersion(entries, '0.1.0')?.version, '0.1.0');
    assert.equal(selectChartVersion(entries, '~0.1')?.version, '0.1.0');
    assert.equal(selectChartVersion(entries, '^2'), undefined);
    const pre = [...entries, { name: 'hello', version: '1.1.0-rc.1', urls: ['x.tgz'] }];
    assert.equal(selectChartVersion(pre, '>=1.0.0')?.version, '1.0.0');
    assert.equal(selectChartVersion(pre, '>=1.1.0-rc.0')?.version, '1.1.0-rc.1');
    assert.deepEqual(parseRepositoryIndex('apiVersion: v1\nentries: {}\n', 'hello', 'i'), []);
    assertThrowsCode(() => parseRepositoryIndex('apiVersion: v1\n', 'hello', 'i'), 'MANIFEST_INVALID');
  });

  it('the listed digests are the .tgz files\' sha256', async () => {
    const entries = parseRepositoryIndex(await readFile(join(REPO, 'index.yaml'), 'utf8'), 'hello', 'index.yaml');
    for (const e of entries) {
      const bytes = await readFile(join(REPO, e.urls[0]!));
      assert.equal(e.digest, createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('names a classic chart like a repository: host[:port]/path/name', () => {
    assert.deepEqual(classicChartRepository('https://charts.example.com/stable', 'redis'), { registry: 'charts.example.com', repositoryPath: 'stable/redis' });
    assert.deepEqual(classicChartRepository('http://127.0.0.1:8080/My_Repo/', 'hello'), { registry: '127.0.0.1:8080', repositoryPath: 'my_repo/hello' });
  });
});

describe('Helm OCI artifact (as helm push makes it)', () => {
  const chartYaml = [
    'apiVersion: v2', 'name: hello', 'version: 0.2.0', 'appVersion: "1.1"', 'description: "a <b> & c"', 'type: application',
    'home: https://h', 'sources: [https://s1, https://s2]', 'maintainers:', '  - {name: A, email: a@x}', '  - name: B',
    'annotations: {z: "1", a: "2", org.opencontainers.image.title: nope}', 'dependencies:', '  - {name: dep, repository: "https://r", version: 1.x}',
    'keywords: [k]', 'deprecated: true', '',
  ].join('\n');

  it('config: chart.Metadata field order, omitempty, Go HTML escaping', () => {
    const json = toHelmConfigJson({
      name: 'hello', version: '0.2.0', apiVersion: 'v2', appVersion: '1.1', description: 'a <b> & c', type: 'application', home: 'https://h',
      sources: ['https://s1'], keywords: ['k'], maintainers: [{ email: 'a@x', name: 'A' }], deprecated: 'true', annotations: { z: '1', a: '2' },
      dependencies: [{ version: '1.x', name: 'dep', repository: 'https://r' }], icon: '',
    }).toString();
    assert.equal(json, '{"name":"hello","home":"https://h","sources":["https://s1"],"version":"0.2.0","description":"a \\u003cb\\u003e \\u0026 c",' +
      '"keywords":["k"],"maintainers":[{"name":"A","email":"a@x"}],"apiVersion":"v2","appVersion":"1.1","deprecated":true,' +
      '"annotations":{"a":"2","z":"1"},"dependencies":[{"name":"dep","version":"1.x","repository":"https://r"}],"type":"application"}');
  });

  it('manifest: config + chart layer + prov layer, chart annotations, no mediaType field', () => {
    const chart = { digest: digestFromHex('1'.repeat(64)), size: 10 };
    const prov = { digest: digestFromHex('2'.repeat(64)), size: 5 };
    const a = buildHelmArtifact({ chartYaml, chart, prov, created: '2024-02-03T04:05:06Z', where: 'Chart.yaml' });
    const m = JSON.parse(a.manifest.bytes.toString()) as Record<string, unknown> & { config: { mediaType: string; digest: string }; layers: { mediaType: string }[]; annotations: Record<string, string> };
    assert.deepEqual(Object.keys(m), ['schemaVersion', 'config', 'layers', 'annotations']);
    assert.equal(m.config.mediaType, MEDIA_TYPE_HELM_CONFIG);
    assert.equal(m.config.digest, digestOf(a.config.bytes));
    assert.deepEqual(m.layers.map((l) => l.mediaType), [MEDIA_TYPE_HELM_CHART, MEDIA_TYPE_HELM_PROVENANCE]);
    assert.equal(a.manifest.desc.digest, digestOf(a.manifest.bytes));
    assert.equal(m.annotations['org.opencontainers.image.title'], 'hello');
    assert.equal(m.annotations['org.opencontainers.image.version'], '0.2.0');
    assert.equal(m.annotations['org.opencontainers.image.created'], '2024-02-03T04:05:06Z');
    assert.equal(m.annotations['org.opencontainers.image.source'], 'https://s1');
    assert.equal(m.annotations['org.opencontainers.image.authors'], 'A (a@x), B');
    assert.deepEqual(Object.keys(m.annotations), [...Object.keys(m.annotations)].sort());
    // Same input, same bytes: exporting one chart version twice gives one digest.
    assert.equal(buildHelmArtifact({ chartYaml, chart, prov, created: '2024-02-03T04:05:06Z', where: 'x' }).manifest.desc.digest, a.manifest.desc.digest);
  });

  it('refuses a Chart.yaml without name or version', () => {
    assertThrowsCode(() => buildHelmArtifact({ chartYaml: 'apiVersion: v2\nname: x\n', chart: { digest: digestFromHex('1'.repeat(64)), size: 1 }, created: 'x', where: 'y' }), 'MANIFEST_INVALID');
  });
});
