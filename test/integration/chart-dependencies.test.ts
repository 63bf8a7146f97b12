/**
 * Issue 19, chart dependencies (seed 003: "charts may include dependencies to other charts"):
 * `includeDependencies: true` carries the charts a chart's Chart.yaml names, at the versions its
 * Chart.lock pins, from OCI registries and classic index.yaml repositories, recursively (an OCI
 * chart → a classic chart → an OCI chart), with the images each names when includeImages is set.
 * Charts are packed with tar and gzip as `helm package` packs them, pushed with skopeo as `helm
 * push` stores them; the import lands in a real registry, where skopeo judges the digests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { describeResult, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { randomImage, type RandomImage } from '../../fixtures/harness/images.js';
import { startRegistry, testBlob, writeOciLayout, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeo, skopeoCopy, skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { sha256Of } from '../../fixtures/harness/validate.js';

const execFileP = promisify(execFile);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

interface Artifact { kind: string; repository: string; tag?: string; digest: string; chartImages?: { ref: string }[]; dependencyOf?: string }

describe('chart dependencies (issue 19)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let server: Server;
  let http: string;
  let work: string;
  let app: RandomImage;
  let redis: RandomImage;
  let exporter: RandomImage;
  const served = new Map<string, Buffer>();
  const ociDigests = new Map<string, string>();
  let artifacts: Artifact[];
  let exported: CliResult;

  /** `helm package`: the chart directory as NAME/..., tarred and gzipped. */
  const pack = async (name: string, version: string, files: Record<string, string>): Promise<Buffer> => {
    const dir = join(work, 'src', `${name}-${version}`);
    for (const [p, text] of Object.entries({ 'Chart.yaml': `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "1.0"\n${files['Chart.yaml'] ?? ''}`, ...Object.fromEntries(Object.entries(files).filter(([k]) => k !== 'Chart.yaml')) })) {
      await mkdir(join(dir, name, p, '..'), { recursive: true });
      await writeFile(join(dir, name, p), text);
    }
    const tgz = join(work, 'src', `${name}-${version}.tgz`);
    await execFileP('sh', ['-c', `tar -C "${dir}" -cf - ${name} | gzip -n > "${tgz}"`]);
    return readFile(tgz);
  };
  /** `helm push`: Chart.yaml as the config, the .tgz as the layer, copied into the registry by skopeo. */
  const pushOci = async (name: string, version: string, tgz: Buffer): Promise<void> => {
    const config = testBlob('application/vnd.cncf.helm.config.v1+json', Buffer.from(JSON.stringify({ name, version, apiVersion: 'v2', appVersion: '1.0' })));
    const layer = testBlob('application/vnd.cncf.helm.chart.content.v1.tar+gzip', tgz);
    const manifest = testBlob('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: config.desc, layers: [layer.desc],
      annotations: { 'org.opencontainers.image.title': name, 'org.opencontainers.image.version': version },
    })));
    const layout = await writeOciLayout(join(work, 'layouts', `${name}-${version}`), [{ tag: version, content: { root: manifest, all: [config, layer, manifest] } }]);
    await skopeoCopy(`oci:${layout}:${version}`, `docker://${upstream.host}/charts/${name}:${version}`, { dest: upstream, all: false });
    ociDigests.set(`${name}:${version}`, manifest.desc.digest);
  };
  const values = (ref: string): string => `image:\n  registry: ${upstream.host}\n  repository: ${ref.split(':')[0]}\n  tag: "${ref.split(':')[1]}"\n`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-chart-deps-'));
    [upstream, site] = await Promise.all([startRegistry(), startRegistry()]);
    [app, redis, exporter] = await Promise.all([randomImage({ layers: 1, size: 10_000 }), randomImage({ layers: 1, size: 10_000 }), randomImage({ layers: 1, size: 10_000 })]);
    await skopeoCopy(app.ociRef, `docker://${upstream.host}/acme/app:1.0`, { dest: upstream });
    await skopeoCopy(redis.ociRef, `docker://${upstream.host}/library/redis:7.2`, { dest: upstream });
    await skopeoCopy(exporter.ociRef, `docker://${upstream.host}/acme/exporter:0.1`, { dest: upstream });
    server = createServer((req, res) => {
      const body = served.get((req.url ?? '/').split('?')[0]!);
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    http = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // Library chart `common` in two versions: the range admits both, Chart.lock pins 2.1.0.
    await pushOci('common', '2.1.0', await pack('common', '2.1.0', { 'Chart.yaml': 'type: library\n' }));
    await pushOci('common', '2.2.0', await pack('common', '2.2.0', { 'Chart.yaml': 'type: library\n' }));
    await pushOci('metrics', '0.1.0', await pack('metrics', '0.1.0', { 'values.yaml': values('acme/exporter:0.1') }));
    // A classic chart that depends on an OCI chart.
    const redisTgz = await pack('redis', '18.6.1', {
      'Chart.yaml': `dependencies:\n  - name: metrics\n    version: 0.1.0\n    repository: oci://${upstream.host}/charts\n`,
      'values.yaml': values('library/redis:7.2'),
    });
    served.set('/stable/redis-18.6.1.tgz', redisTgz);
    served.set('/stable/index.yaml', Buffer.from(`apiVersion: v1\nentries:\n  redis:\n  - name: redis\n    version: 18.6.1\n    apiVersion: v2\n    digest: ${sha(redisTgz)}\n    urls: [redis-18.6.1.tgz]\n    created: "2024-01-01T00:00:00Z"\n`));
    // The chart the list names.
    await pushOci('app', '1.0.0', await pack('app', '1.0.0', {
      'Chart.yaml': [
        'dependencies:',
        '  - name: common', '    version: 2.x.x', `    repository: oci://${upstream.host}/charts`,
        '  - name: redis', '    version: ~18.6.0', `    repository: ${http}/stable`, '    condition: redis.enabled',
        '  - name: local', '    version: 0.1.0', '    repository: file://../local',
        '  - name: postgresql', '    version: 12.x.x', '    repository: "@bitnami"', '',
      ].join('\n'),
      'Chart.lock': `dependencies:\n- name: common\n  repository: oci://${upstream.host}/charts\n  version: 2.1.0\n- name: redis\n  repository: ${http}/stable\n  version: 18.6.1\ndigest: sha256:${'0'.repeat(64)}\ngenerated: "2024-01-01T00:00:00Z"\n`,
      'values.yaml': values('acme/app:1.0'),
      'charts/local/Chart.yaml': 'apiVersion: v2\nname: local\nversion: 0.1.0\n',
    }));

    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1', 'defaults: { referrers: false }', 'registries:', `  "${upstream.host}": { tls: plain-http }`, `  "${new URL(http).host}": { tls: plain-http }`,
      'charts:', `  - ref: oci://${upstream.host}/charts/app`, '    version: 1.0.0', '    includeImages: true', '    includeDependencies: true', '',
    ].join('\n'));
    await mkdir(join(work, 'bundles'));
    exported = await runCli(['bundle', 'export', '-f', mirror, '-o', join(work, 'bundles', 'b.tar'), '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--json'], { timeoutMs: 300_000 });
    ok(exported);
    artifacts = (parseJsonOutput(exported) as { artifacts: Artifact[] }).artifacts;
  });

  after(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    await Promise.allSettled([upstream?.stop(), site?.stop(), app?.remove(), redis?.remove(), exporter?.remove()]);
    await rm(work, { recursive: true, force: true });
  });

  it('carries the dependencies, OCI and classic, recursively, at the versions Chart.lock pins', () => {
    const charts = artifacts.filter((a) => a.kind === 'chart').map((a) => `${a.repository}:${a.tag}`).sort();
    assert.deepEqual(charts, [
      `${upstream.host}/charts/app:1.0.0`, `${upstream.host}/charts/common:2.1.0`, `${upstream.host}/charts/metrics:0.1.0`, `${new URL(http).host}/stable/redis:18.6.1`,
    ].sort());
    // airlock.json records which chart each was carried for.
    const dependencyOf = (repository: string): string | undefined => artifacts.find((a) => a.kind === 'chart' && a.repository === repository)?.dependencyOf;
    assert.equal(dependencyOf(`${upstream.host}/charts/app`), undefined);
    assert.equal(dependencyOf(`${upstream.host}/charts/common`), `${upstream.host}/charts/app:1.0.0`);
    assert.equal(dependencyOf(`${new URL(http).host}/stable/redis`), `${upstream.host}/charts/app:1.0.0`);
    assert.equal(dependencyOf(`${upstream.host}/charts/metrics`), `${new URL(http).host}/stable/redis:18.6.1`);
    for (const [nameVersion, digest] of [...ociDigests].filter(([k]) => k !== 'common:2.2.0')) {
      assert.equal(artifacts.find((a) => a.repository === `${upstream.host}/charts/${nameVersion.split(':')[0]}`)?.digest, digest, nameVersion);
    }
  });

  it('carries the images every chart of the tree names (includeImages)', () => {
    const images = artifacts.filter((a) => a.kind === 'image').map((a) => `${a.repository}:${a.tag}`).sort();
    assert.deepEqual(images, [`${upstream.host}/acme/app:1.0`, `${upstream.host}/acme/exporter:0.1`, `${upstream.host}/library/redis:7.2`].sort());
  });

  it('says which dependencies it cannot fetch (a repository known by name only); local subcharts are inside the chart', () => {
    assert.match(exported.stderr, /dependency postgresql of .*app:1\.0\.0\): not carried: @bitnami is a repository added by name/);
    assert.doesNotMatch(exported.stderr, /dependency local/);
  });

  it('imports the tree: skopeo finds every chart at its upstream digest in the target', async () => {
    ok(await runCli(['bundle', 'import', join(work, 'bundles', 'b.tar'), '--to', `${site.host}/mirror`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--state-dir', join(work, 'state'), '--out-dir', join(work, 'out')], { timeoutMs: 300_000 }));
    for (const nv of ['app:1.0.0', 'common:2.1.0', 'metrics:0.1.0']) {
      const raw = await skopeoInspectRaw(`docker://${site.host}/mirror/charts/${nv}`, site);
      assert.equal(sha256Of(raw), ociDigests.get(nv), nv);
    }
    // The classic chart is pushed as an OCI chart and delivered as its .tgz.
    await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${site.host}/mirror/stable/redis:18.6.1`]);
    assert.equal(sha(await readFile(join(work, 'out', 'files', 'charts', 'redis-18.6.1.tgz'))), sha(served.get('/stable/redis-18.6.1.tgz')!));
    await assert.rejects(skopeoInspectRaw(`docker://${site.host}/mirror/charts/common:2.2.0`, site));
  });

  it('refuses a dependency on oci://HOST with no dot or port (helm asks that host; as an image name it is Docker Hub\'s), naming the chart and how to write it', async () => {
    await pushOci('internal', '1.0.0', await pack('internal', '1.0.0', {
      'Chart.yaml': 'dependencies:\n  - name: common\n    version: 2.1.0\n    repository: oci://harbor/charts\n',
    }));
    const mirror = join(work, 'mirror-dotless.yaml');
    await writeFile(mirror, [
      'version: 1', 'defaults: { referrers: false }', 'registries:', `  "${upstream.host}": { tls: plain-http }`,
      'charts:', `  - ref: oci://${upstream.host}/charts/internal`, '    version: 1.0.0', '    includeDependencies: true', '',
    ].join('\n'));
    const r = await runCli(['bundle', 'export', '-f', mirror, '-o', join(work, 'bundles', 'dotless.tar'), '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache')], { timeoutMs: 120_000 });
    assert.equal(r.code, 2, describeResult(r));
    assert.match(r.stderr, /internal:1\.0\.0 depends on oci:\/\/harbor\/charts\/common, which is not an OCI chart reference \(invalid chart reference "oci:\/\/harbor\/charts\/common": helm reads "harbor" as the registry's host/);
    assert.match(r.stderr, /oci:\/\/harbor\.example\.com\/charts\/NAME/);
    assert.match(r.stderr, /mirror-dotless\.yaml:6/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});
