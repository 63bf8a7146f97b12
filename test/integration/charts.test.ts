/**
 * Issue 8 end to end, through the CLI: an OCI chart, a classic chart repository served from
 * fixtures/charts on 127.0.0.1, a chart with `includeImages: true`, and files (a local path and a
 * url with its sha256) are exported into one bundle and imported into a second registry with
 * --push-files. skopeo is the independent judge of what the target holds.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { chartFiles } from '../../fixtures/generate/helm.js';
import { tarChunks } from '../../fixtures/generate/tar.js';
import { seedRegistry, type SeedResult } from '../../fixtures/harness/fixtures.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';

const CLI = fileURLToPath(new URL('../../../bin/airlock.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../fixtures/charts/repo/', import.meta.url));
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Run { code: number; stdout: string; stderr: string }

function airlock(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

interface Manifest { config: { mediaType: string; digest: string }; layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] }

describe('charts and files (issue 8)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let seeded: SeedResult;
  let server: Server;
  let http: string;
  let work: string;
  const served = new Map<string, Buffer>();
  const urlFile = Buffer.from('sha256 checksums of release 1.0.0\n');

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-charts-'));
    [upstream, site] = await Promise.all([startRegistry(), startRegistry({ tls: true })]);
    seeded = await seedRegistry(upstream, 'small', { kinds: ['image', 'chart'] });
    // A chart generated now whose images live on the test registry (the committed fixtures name
    // an unreachable placeholder registry), for includeImages.
    const images = seeded.fixtures.description.chartImages;
    // The fixture generator's Chart.yaml has an unquoted description holding ": ", which no YAML
    // parser (Helm's included) accepts: quote it, as `helm create` would.
    const files = chartFiles({ kind: 'chart', name: 'gen/demo', chartName: 'demo', version: '0.3.0', appVersion: '1.0', images }, upstream.host)
      .map((f) => (f.path === 'Chart.yaml' ? { ...f, text: f.text.replace(/^description: (.*)$/m, (_m, d: string) => `description: ${JSON.stringify(d)}`) } : f));
    const chunks: Buffer[] = [];
    for await (const c of tarChunks(files.map((f) => ({ type: 'file' as const, path: `demo/${f.path}`, size: Buffer.byteLength(f.text), body: () => [Buffer.from(f.text)] })))) chunks.push(c);
    const tgz = gzipSync(Buffer.concat(chunks));
    served.set('/gen/demo-0.3.0.tgz', tgz);
    served.set('/gen/index.yaml', Buffer.from(`apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 0.3.0\n    appVersion: "1.0"\n    apiVersion: v2\n    digest: ${sha(tgz)}\n    urls: [demo-0.3.0.tgz]\n`));
    served.set('/files/checksums.txt', urlFile);
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      void (async () => {
        let body = served.get(path);
        if (!body && path.startsWith('/repo/')) {
          const p = normalize(join(REPO, path.slice('/repo/'.length)));
          body = p.startsWith(REPO) ? await readFile(p).catch(() => undefined) : undefined;
        }
        if (!body) res.writeHead(404).end();
        else res.writeHead(200, { 'content-length': body.length }).end(body);
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    http = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await Promise.all([upstream.stop(), site.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('exports OCI and classic charts, chart images and files; imports, pushes, delivers them', async () => {
    const chart = seeded.find('charts/demo', 'chart');
    await writeFile(join(work, 'notes.txt'), 'local release notes\n');
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1',
      'defaults: { referrers: false }',
      'registries:',
      `  ${upstream.host}: { tls: plain-http }`,
      'charts:',
      `  - ref: oci://${upstream.host}/${chart.repository}`,
      '    version: "~0.1"',
      `  - repo: ${http}/repo`,
      '    name: hello',
      '    version: ">=0.1.0 <1.0.0"',
      `  - repo: ${http}/gen/`,
      '    name: demo',
      '    version: 0.3.0',
      '    includeImages: true',
      'files:',
      `  - path: ${join(work, 'notes.txt')}`,
      `  - url: ${http}/files/checksums.txt`,
      `    sha256: ${sha(urlFile)}`,
      '',
    ].join('\n'));
    const bundle = join(work, 'b.tar');
    const exp = await airlock(['bundle', 'export', '-f', mirror, '-o', bundle, '--cache', join(work, 'cache'), '--json']);
    assert.equal(exp.code, 0, exp.stderr);
    const result = JSON.parse(exp.stdout) as { artifacts: { kind: string; repository: string; tag?: string; digest: string; fileName?: string; origin?: string; chartImages?: { ref: string }[] }[] };
    const byKind = (k: string): string[] => result.artifacts.filter((a) => a.kind === k).map((a) => `${a.repository}:${a.tag}`).sort();
    const httpHost = new URL(http).host;
    assert.deepEqual(byKind('chart'), [`${httpHost}/gen/demo:0.3.0`, `${httpHost}/repo/hello:0.2.0`, `${upstream.host}/charts/demo:0.1.0`].sort());
    // includeImages: exactly the images the chart names, nothing rewritten.
    assert.deepEqual(byKind('image'), seeded.fixtures.description.chartImages.map((i) => `${upstream.host}/${i}`).sort());
    assert.deepEqual(result.artifacts.find((a) => a.repository === `${httpHost}/gen/demo`)?.chartImages?.map((i) => i.ref).sort(),
      seeded.fixtures.description.chartImages.map((i) => `${upstream.host}/${i}`).sort());
    assert.deepEqual(result.artifacts.filter((a) => a.kind === 'file').map((a) => a.fileName).sort(), ['checksums.txt', 'notes.txt']);

    const out = join(work, 'out');
    const imp = await airlock(['bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--dest-cert-dir', site.ca!.certDir, '--insecure-skip-signature',
      '--out-dir', out, '--state-dir', join(work, 'state'), '--push-files', '--json']);
    assert.equal(imp.code, 0, imp.stderr);

    // OCI chart: the target's manifest bytes are the upstream's.
    const up = await skopeoInspectRaw(`docker://${upstream.host}/${chart.repository}:0.1.0`, upstream);
    const down = await skopeoInspectRaw(`docker://${site.host}/mirror/charts/demo:0.1.0`, site);
    assert.deepEqual(down, up);
    assert.equal(`sha256:${sha(down)}`, chart.digest);

    // Classic chart: an OCI chart with Helm's media types whose chart layer is the .tgz the index lists.
    const index = await readFile(join(REPO, 'index.yaml'), 'utf8');
    const tgz = await readFile(join(REPO, 'hello-0.2.0.tgz'));
    assert.ok(index.includes(`digest: ${sha(tgz)}`));
    const hello = JSON.parse((await skopeoInspectRaw(`docker://${site.host}/mirror/repo/hello:0.2.0`, site)).toString()) as Manifest;
    assert.equal(hello.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
    assert.deepEqual(hello.layers.map((l) => [l.mediaType, l.digest]), [
      ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', `sha256:${sha(tgz)}`],
      ['application/vnd.cncf.helm.chart.provenance.v1.prov', `sha256:${sha(await readFile(join(REPO, 'hello-0.2.0.tgz.prov')))}`],
    ]);
    // …and the .tgz (with its .prov) delivered with its checksum.
    assert.deepEqual(await readFile(join(out, 'files', 'charts', 'hello-0.2.0.tgz')), tgz);
    assert.deepEqual(await readFile(join(out, 'files', 'charts', 'hello-0.2.0.tgz.prov')), await readFile(join(REPO, 'hello-0.2.0.tgz.prov')));
    const sums = await readFile(join(out, 'files', 'SHA256SUMS'), 'utf8');
    assert.ok(sums.includes(`${sha(tgz)}  charts/hello-0.2.0.tgz\n`), sums);

    // Files: delivered under their names, verified; pushed as OCI artifacts with --push-files.
    assert.deepEqual(await readFile(join(out, 'files', 'checksums.txt')), urlFile);
    assert.equal(await readFile(join(out, 'files', 'notes.txt'), 'utf8'), 'local release notes\n');
    assert.ok(sums.includes(`${sha(urlFile)}  checksums.txt\n`));
    const pushed = JSON.parse((await skopeoInspectRaw(`docker://${site.host}/mirror/airlock/files:checksums.txt`, site)).toString()) as Manifest & { artifactType: string };
    assert.equal(pushed.artifactType, 'text/plain');
    assert.deepEqual(pushed.layers.map((l) => [l.digest, l.annotations?.['org.opencontainers.image.title']]), [[`sha256:${sha(urlFile)}`, 'checksums.txt']]);

    // Digest-pinned values for the chart's images.
    const values = await readFile(join(out, 'values-registry.yaml'), 'utf8');
    const app = seeded.find('demo/app', '1.0');
    assert.ok(values.includes(`"${httpHost}/gen/demo:0.3.0"`), values);
    assert.ok(values.includes(`repository: "mirror/demo/app"`) && values.includes(`digest: "${app.digest}"`), values);
    const chartValues = await readFile(join(out, 'values', 'demo-0.3.0.yaml'), 'utf8');
    assert.ok(chartValues.includes(`image:\n  registry: "${site.host}"\n  repository: "mirror/demo/app"\n  tag: "1.0"\n  digest: "${app.digest}"\n`), chartValues);

    // chart images (CLI) on the generated chart lists exactly what it declares.
    await writeFile(join(work, 'demo.tgz'), served.get('/gen/demo-0.3.0.tgz')!);
    const listed = await airlock(['chart', 'images', join(work, 'demo.tgz')]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n'), seeded.fixtures.description.chartImages.map((i) => `${upstream.host}/${i}`).sort());
  });

  it('a url file whose bytes do not match its sha256: export fails with exit 3 and names the file', async () => {
    const mirror = join(work, 'bad.yaml');
    await writeFile(mirror, ['version: 1', 'files:', `  - url: ${http}/files/checksums.txt`, `    sha256: ${sha('something else')}`, ''].join('\n'));
    const r = await airlock(['bundle', 'export', '-f', mirror, '-o', join(work, 'bad.tar'), '--cache', join(work, 'cache-bad'), '--json']);
    assert.equal(r.code, 3, r.stderr);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string; where: string } }).error;
    assert.equal(err.code, 'DIGEST_MISMATCH');
    assert.ok(err.message.includes('checksums.txt'), err.message);
    assert.ok(err.where.startsWith(mirror), err.where);
  });
});
