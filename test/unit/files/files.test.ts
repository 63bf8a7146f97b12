import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  buildFileArtifact, deliverBlobs, ingestPath, ingestUrl, planDeliveries, tagForFile, writeDeliveryChecksums, EMPTY_DESCRIPTOR,
  type Delivery,
} from '../../../src/files/index.js';
import { LayoutStore } from '../../../src/layout/index.js';
import { MEDIA_TYPE_AIRLOCK_FILE, MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor } from '../../../src/oci/index.js';
import type { BundleArtifact } from '../../../src/bundle/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function serve(t: { after: (fn: () => unknown) => void }, files: Record<string, Buffer>): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/a.txt' }).end();
      return;
    }
    const body = files[(req.url ?? '').slice(1)];
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

async function tempStore(t: { after: (fn: () => unknown) => void }): Promise<{ dir: string; cache: LayoutStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = new LayoutStore(join(dir, 'cache'));
  await cache.init();
  return { dir, cache };
}

describe('file artifacts', () => {
  it('one layer titled with the file name, the empty config, artifactType by extension', () => {
    const digest = digestOf('hello');
    const a = buildFileArtifact({ fileName: 'notes.txt', digest, size: 5, origin: 'notes.txt', where: 'm.yaml:3:5' });
    const m = JSON.parse(a.manifest.bytes.toString()) as { mediaType: string; artifactType: string; config: Descriptor; layers: Descriptor[] };
    assert.equal(m.mediaType, MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(m.artifactType, 'text/plain');
    assert.deepEqual(m.config, EMPTY_DESCRIPTOR);
    assert.equal(EMPTY_DESCRIPTOR.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    assert.deepEqual(m.layers, [{ mediaType: 'text/plain', digest, size: 5, annotations: { 'org.opencontainers.image.title': 'notes.txt' } }]);
    assert.equal(a.tag, 'notes.txt');
    assert.equal(buildFileArtifact({ fileName: 'blob.bin', digest, size: 5, origin: 'x', where: 'y' }).artifactType, MEDIA_TYPE_AIRLOCK_FILE);
    assert.equal(buildFileArtifact({ fileName: 'x', digest, size: 5, origin: 'x', where: 'y', artifactType: 'application/vnd.example' }).artifactType, 'application/vnd.example');
    assert.equal(tagForFile('.hidden file+1'), '_.hidden_file_1');
  });
});

describe('ingest', () => {
  it('a url file lands in the cache under its sha256 (redirects followed); a second time nothing is downloaded', async (t) => {
    const body = Buffer.from('release checksums\n');
    const srv = await serve(t, { 'a.txt': body });
    const { cache } = await tempStore(t);
    const got = await ingestUrl(`${srv.url}/moved`, { cache, where: 'm.yaml:2:5', what: 'file a.txt', expected: `sha256:${sha(body)}` as never });
    assert.deepEqual(got, { digest: `sha256:${sha(body)}`, size: body.length, cached: false });
    assert.deepEqual(await readFile(cache.blobPath(got.digest)), body);
    const again = await ingestUrl(`${srv.url}/a.txt`, { cache, where: 'm.yaml:2:5', what: 'file a.txt', expected: got.digest });
    assert.equal(again.cached, true);
    assert.deepEqual(srv.hits, ['/moved', '/a.txt']);
  });

  it('bytes that do not match the sha256: DIGEST_MISMATCH naming the file, nothing left in the cache', async (t) => {
    const srv = await serve(t, { 'a.txt': Buffer.from('tampered') });
    const { cache } = await tempStore(t);
    const err = await assertRejectsCode(ingestUrl(`${srv.url}/a.txt`, { cache, where: 'm.yaml:2:5', what: 'file a.txt', expected: `sha256:${sha('original')}` as never }), 'DIGEST_MISMATCH');
    assert.equal(err.where, 'm.yaml:2:5');
    assert.ok(err.message.includes('a.txt'));
    assert.deepEqual(await readdir(join(cache.root, 'blobs', 'sha256')), []);
    assert.deepEqual(await readdir(join(cache.root, 'ingest')), []);
  });

  it('404 is NOT_FOUND; a body over the cap is refused; a local file is hashed', async (t) => {
    const srv = await serve(t, { 'big': Buffer.alloc(1000) });
    const { dir, cache } = await tempStore(t);
    await assertRejectsCode(ingestUrl(`${srv.url}/missing`, { cache, where: 'w', what: 'file m' }), 'NOT_FOUND');
    await assertRejectsCode(ingestUrl(`${srv.url}/big`, { cache, where: 'w', what: 'file big', maxBytes: 100 }), 'IO');
    await writeFile(join(dir, 'local.json'), '{"a":1}');
    assert.deepEqual(await ingestPath(join(dir, 'local.json'), cache, 'w'), { digest: `sha256:${sha('{"a":1}')}`, size: 7, cached: false });
    await assertRejectsCode(ingestPath(dir, cache, 'w'), 'USAGE');
  });
});

describe('delivery', () => {
  it('plans file layers under files/ and classic charts under files/charts/, writes them verified, lists SHA256SUMS', async (t) => {
    const { dir } = await tempStore(t);
    const data = Buffer.from('file body');
    const f = buildFileArtifact({ fileName: 'notes.txt', digest: digestOf(data), size: data.length, origin: 'notes.txt', where: 'w' });
    const art: BundleArtifact = {
      kind: 'file', source: 'airlock/files:notes.txt', repository: f.repository, tag: f.tag, digest: f.manifest.desc.digest,
      mediaType: f.manifest.desc.mediaType, size: f.manifest.desc.size, fileName: 'notes.txt',
    };
    const deliveries: Delivery[] = planDeliveries([art], new Map([[f.manifest.desc.digest, f.manifest.bytes]]));
    assert.deepEqual(deliveries.map((d) => d.path), ['files/notes.txt']);
    const tracker = { delivered: new Set<string>() };
    const other = Buffer.from('a layer');
    const passed: string[] = [];
    for await (const e of deliverBlobs(Readable.from([
      { desc: { mediaType: 'x', digest: digestOf(other), size: other.length }, body: Readable.from([other]) },
      { desc: { mediaType: 'x', digest: digestOf(data), size: data.length }, body: Readable.from([data]) },
    ]), deliveries, dir, tracker)) {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c as Buffer);
      passed.push(Buffer.concat(chunks).toString());
    }
    assert.deepEqual(passed, ['a layer', 'file body']);
    assert.deepEqual([...tracker.delivered], ['files/notes.txt']);
    assert.deepEqual(await readFile(join(dir, 'files', 'notes.txt')), data);
    assert.equal(await writeDeliveryChecksums(dir, deliveries), 1);
    assert.equal(await readFile(join(dir, 'files', 'SHA256SUMS'), 'utf8'), `${sha(data)}  notes.txt\n`);
  });

  it('a delivered blob whose bytes are wrong fails DIGEST_MISMATCH and leaves no file', async (t) => {
    const { dir } = await tempStore(t);
    const d: Delivery = { digest: digestOf('right'), size: 5, path: 'files/x.txt', source: 's' };
    const run = async (): Promise<void> => {
      for await (const e of deliverBlobs(Readable.from([{ desc: { mediaType: 'x', digest: d.digest, size: 5 }, body: Readable.from([Buffer.from('wrong')]) }]), [d], dir, { delivered: new Set() })) e.body.resume();
    };
    await assertRejectsCode(run(), 'DIGEST_MISMATCH');
    assert.deepEqual(await readdir(join(dir, 'files')), []);
  });
});
