import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { MemoryStore, type ContentSource } from '../../../src/content/index.js';
import { CacheFirstSource } from '../../../src/copy/index.js';
import { MEDIA_TYPE_OCI_LAYER_GZIP, digestOf, type Descriptor } from '../../../src/oci/index.js';

const data = Buffer.from('a layer, as upstream has it');
const desc: Descriptor = { mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: digestOf(data), size: data.length };

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A cache whose file for `desc` holds other bytes of the same size (a hint gone wrong). */
const wrongCache: ContentSource = {
  resolve: async () => desc,
  exists: async () => true,
  fetch: async () => Readable.from([Buffer.alloc(data.length, 0x41)]),
};

describe('CacheFirstSource', () => {
  it('serves the cache copy when there is one, and says so when it is opened', async () => {
    const cache = new MemoryStore();
    await cache.push(desc, Readable.from([data]));
    const upstream = new MemoryStore();
    const served: string[] = [];
    const src = new CacheFirstSource(cache, upstream, { onServed: (_d, from) => served.push(from) });
    assert.deepEqual(await drain(await src.fetch(desc)), data);
    assert.deepEqual(served, ['cache']);
    assert.equal(upstream.counts.fetch, 0);
  });

  it('checks the cache copy while it streams: wrong bytes fail with the blob named', async () => {
    const src = new CacheFirstSource(wrongCache, new MemoryStore(), { whereOf: () => 'example.com/app' });
    await assert.rejects(drain(await src.fetch(desc)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DIGEST_MISMATCH');
      assert.match(err.message + String((err as { where?: string }).where ?? ''), /example\.com\/app/);
      return true;
    });
  });

  it('reads upstream when the cache lacks the blob, verified, and reports it once the last byte passed', async () => {
    const upstream = new MemoryStore();
    await upstream.push(desc, Readable.from([data]));
    const served: string[] = [];
    const src = new CacheFirstSource(new MemoryStore(), upstream, { onServed: (_d, from) => served.push(from) });
    const body = await src.fetch(desc);
    assert.deepEqual(served, []);
    assert.deepEqual(await drain(body), data);
    assert.deepEqual(served, ['upstream']);
    assert.equal(await src.exists(desc), true);
  });
});
