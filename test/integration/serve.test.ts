import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isDockerMediaType } from '../../src/oci/index.js';
import { serveBundle, type ServeHandle } from '../../src/ops/index.js';
import { loadPublicKey } from '../../src/signing/index.js';
import { assertRejectsCode } from '../helpers/assert.js';
import { freePort } from '../../fixtures/harness/registry.js';
import { CLI, makeSignedBundles, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';
import { skopeo } from '../../fixtures/harness/skopeo.js';
import { sha256Of } from '../../fixtures/harness/validate.js';

const execFileP = promisify(execFile);

const NOVERIFY = ['--src-tls-verify=false'];

describe('bundle serve', () => {
  let b: SignedBundles;
  let tar: string;
  let serve: ServeHandle;
  let host: string;
  const requests: { method: string; path: string; status: number }[] = [];

  before(async () => {
    b = await makeSignedBundles();
    tar = await b.exportTo(join(b.work, 'site.tar'));
    serve = await serveBundle({
      bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [await loadPublicKey(b.publicKey)], insecureSkipSignature: false },
      onRequest: (r) => requests.push(r),
    });
    host = serve.url.replace('http://', '');
  });
  after(async () => {
    await serve?.close();
    await b?.dispose();
  });

  it('serves every tagged image, index and chart of the fixtures to skopeo copy --all with identical digests', async () => {
    const roots = b.seeded.images.filter((i) => i.tag && (i.kind === 'image' || i.kind === 'index' || i.kind === 'chart'));
    assert.ok(roots.length >= 7);
    await mkdir(join(b.work, 'pulled'));
    for (const i of roots) {
      const out = join(b.work, 'pulled', `${i.name.replace(/\//g, '_')}-${i.tag}`);
      // skopeo's oci: transport converts Docker manifests to OCI unless told to keep them.
      const keep = isDockerMediaType(i.mediaType) ? ['--preserve-digests'] : [];
      await skopeo(['copy', '--all', ...keep, ...NOVERIFY, `docker://${host}/${i.name}:${i.tag}`, `oci:${out}`]);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      assert.equal(index.manifests[0]?.digest, i.digest, `${i.name}:${i.tag}`);
      // Every blob skopeo wrote is whole (it checks digests itself; this is the independent check).
      for (const hex of await readdir(join(out, 'blobs', 'sha256'))) {
        const data = await readFile(join(out, 'blobs', 'sha256', hex));
        assert.equal(createHash('sha256').update(data).digest('hex'), hex);
      }
    }
  });

  it('lists tags (with the cosign tag and the referrers fallback tag) and the catalog', async () => {
    const app = b.seeded.find('demo/app', '1.0');
    const { stdout } = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/demo/app`]);
    const tags = (JSON.parse(stdout) as { Tags: string[] }).Tags;
    const fallback = `sha256-${app.digest.slice(7)}`;
    assert.deepEqual(tags, ['1.0', '2.0', fallback, `${fallback}.sig`]);
    const cat = await (await fetch(`${serve.url}/v2/_catalog?n=2`)).json() as { repositories: string[] };
    assert.deepEqual(cat.repositories, ['charts/demo', 'demo/app']);
    const page = await fetch(`${serve.url}/v2/demo/app/tags/list?n=1&last=1.0`);
    assert.deepEqual(((await page.json()) as { tags: string[] }).tags, ['2.0']);
    assert.match(page.headers.get('link') ?? '', /rel="next"/);
  });

  it('answers the referrers API and the fallback tag from the bundle', async () => {
    const app = b.seeded.find('demo/app', '1.0');
    const sbom = b.seeded.images.find((i) => i.kind === 'sbom')!;
    const res = await fetch(`${serve.url}/v2/demo/app/referrers/${app.digest}`);
    assert.equal(res.status, 200);
    const idx = await res.json() as { manifests: { digest: string; artifactType?: string }[] };
    assert.deepEqual(idx.manifests.map((m) => m.digest), [sbom.digest]);
    assert.equal(idx.manifests[0]?.artifactType, sbom.artifactType);
    const filtered = await fetch(`${serve.url}/v2/demo/app/referrers/${app.digest}?artifactType=application/x-none`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(((await filtered.json()) as { manifests: unknown[] }).manifests, []);
    const none = await fetch(`${serve.url}/v2/demo/app/referrers/sha256:${'0'.repeat(64)}`);
    assert.equal(none.status, 200);
    const tagged = JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/demo/app:sha256-${app.digest.slice(7)}`])).stdout) as { manifests: { digest: string }[] };
    assert.deepEqual(tagged.manifests.map((m) => m.digest), [sbom.digest]);
  });

  it('answers HEAD and Range requests on blobs', async () => {
    const app = b.seeded.find('demo/app', '1.0');
    const layer = app.blobs.reduce((a, x) => (x.size > a.size ? x : a));
    const url = `${serve.url}/v2/demo/app/blobs/${layer.digest}`;
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(layer.size));
    assert.equal(head.headers.get('docker-content-digest'), layer.digest);
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.equal(createHash('sha256').update(whole).digest('hex'), layer.digest.slice(7));
    const part = await fetch(url, { headers: { Range: 'bytes=100-1099' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-1099/${layer.size}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), whole.subarray(100, 1100));
    const tail = await fetch(url, { headers: { Range: 'bytes=-10' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 10));
    const bad = await fetch(url, { headers: { Range: `bytes=${layer.size}-` } });
    assert.equal(bad.status, 416);
    const mhead = await fetch(`${serve.url}/v2/demo/app/manifests/1.0`, { method: 'HEAD' });
    assert.equal(mhead.headers.get('docker-content-digest'), app.digest);
    assert.equal(mhead.headers.get('content-type'), app.mediaType);
  });

  it('refuses every write with 405 UNSUPPORTED and answers unknown names with 404', async () => {
    for (const [method, path] of [['PUT', '/v2/demo/app/manifests/evil'], ['POST', '/v2/demo/app/blobs/uploads/'], ['DELETE', `/v2/demo/app/manifests/1.0`], ['PATCH', '/v2/demo/app/blobs/uploads/x']] as const) {
      const res = await fetch(`${serve.url}${path}`, { method, body: method === 'DELETE' ? null : 'x' });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNSUPPORTED');
    }
    const tags = await fetch(`${serve.url}/v2/demo/app/tags/list`);
    assert.ok(!(((await tags.json()) as { tags: string[] }).tags).includes('evil'));
    const unknown = await fetch(`${serve.url}/v2/nope/manifests/1.0`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { errors: { code: string }[] }).errors[0]?.code, 'NAME_UNKNOWN');
    const missing = await fetch(`${serve.url}/v2/demo/app/manifests/9.9`);
    assert.equal(((await missing.json()) as { errors: { code: string }[] }).errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.ok(requests.some((r) => r.method === 'PUT' && r.status === 405));
  });

  it('refuses a bundle whose signature does not verify, unless told to skip it', async () => {
    await assertRejectsCode(serveBundle({ bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [], insecureSkipSignature: false } }), 'SIGNATURE_UNVERIFIED');
    const h = await serveBundle({ bundles: [tar], listen: '127.0.0.1:0', signature: { keys: [], insecureSkipSignature: true } });
    assert.equal(h.signature.verified, false);
    await h.close();
  });

  /** `airlock bundle serve FILE` on a free port, once it says it is ready (its "Ctrl-C" line). */
  const startServe = async (file: string, cache: string): Promise<{ port: number; stderr: () => string; stop: () => Promise<number | null> }> => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'bundle', 'serve', file, '--listen', `127.0.0.1:${port}`, '--verify-key', b.publicKey, '--cache', cache], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('Ctrl-C')) resolve();
      });
      void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)));
    });
    return { port, stderr: () => stderr, stop: async () => { child.kill('SIGTERM'); return exited; } };
  };

  it('CLI: serves an airlock .tar.zst in place and one recompressed by zstd unpacked once into the cache; stops cleanly on SIGTERM', async () => {
    const zst = await b.exportTo(join(b.work, 'site.tar.zst'));
    const worker = b.seeded.find('demo/worker', '1.0');
    // In place: nothing unpacked, every image pulls whole (skopeo checks each blob's digest).
    {
      const cache = join(b.work, 'serve-cache-unused');
      const serve = await startServe(zst, cache);
      assert.match(serve.stderr(), /in place/);
      assert.doesNotMatch(serve.stderr(), /unpacking/);
      const copied = join(b.work, 'pulled-in-place');
      await skopeo(['copy', '--src-tls-verify=false', `docker://127.0.0.1:${serve.port}/demo/worker:1.0`, `dir:${copied}`]);
      assert.equal(sha256Of(await readFile(join(copied, 'manifest.json'))), worker.digest);
      assert.equal(existsSync(cache), false, 'nothing unpacked');
      assert.equal(await serve.stop(), 0);
    }
    const recompressed = join(b.work, 'recompressed.tar.zst');
    const plain = join(b.work, 'recompressed.tar');
    await execFileP('zstd', ['-q', '-d', zst, '-o', plain]);
    await execFileP('zstd', ['-q', '-3', '--rm', plain, '-o', recompressed]);
    const cache = join(b.work, 'serve-cache');
    const serve = await startServe(recompressed, cache);
    assert.match(serve.stderr(), /unpacking it once/);
    const raw = (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://127.0.0.1:${serve.port}/demo/worker:1.0`])).stdout;
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, worker.digest);
    // The .tar.zst export has its own bundle id (its created time differs): one directory of it.
    const dirs = await readdir(cache);
    assert.equal(dirs.length, 1);
    assert.deepEqual(await readdir(join(cache, dirs[0]!)), ['recompressed.tar']);
    assert.equal(await serve.stop(), 0);
  });

  it('CLI: a bad --listen is a usage error (exit 2)', async () => {
    const child = spawn(process.execPath, [CLI, 'bundle', 'serve', tar, '--listen', 'nohost', '--insecure-skip-signature'], { stdio: 'ignore' });
    assert.equal(await new Promise((resolve) => child.on('close', resolve)), 2);
  });
});
