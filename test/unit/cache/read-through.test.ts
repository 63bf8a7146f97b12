/**
 * ReadThroughSource (src/cache/read-through.ts): a source's blob reads served from the download
 * cache when it holds them, stored there first when it does not (unless a dry run), and a small
 * cached blob whose bytes are wrong evicted and read from upstream again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openCache, ReadThroughSource } from '../../../src/cache/index.js';
import { MemoryStore, readCapped } from '../../../src/content/index.js';
import { MEDIA_TYPE_OCI_LAYER_GZIP, digestOf, type Descriptor } from '../../../src/oci/index.js';

function blob(text: string): { desc: Descriptor; data: Buffer } {
  const data = Buffer.from(text);
  return { desc: { mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: digestOf(data), size: data.length }, data };
}

const read = async (src: ReadThroughSource, desc: Descriptor): Promise<string> => (await readCapped(await src.fetch(desc), 1 << 20, 'test')).toString('utf8');

describe('ReadThroughSource (issue 22: no Proxy around a repository)', () => {
  it('fills the cache on the first read and serves the second from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-read-through-'));
    try {
      const upstream = new MemoryStore();
      const b = blob('a signature payload');
      upstream.put(b.desc, b.data);
      const cache = await openCache(dir);
      const src = new ReadThroughSource(upstream, cache);
      assert.equal(await read(src, b.desc), 'a signature payload');
      assert.equal(await cache.exists(b.desc), true, 'stored in the cache');
      assert.equal(await read(src, b.desc), 'a signature payload');
      assert.equal(upstream.counts.fetch, 1, 'the second read came from the cache');
      assert.equal(await src.exists(b.desc), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without fill (a dry run) reads upstream and leaves the cache as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-read-through-'));
    try {
      const upstream = new MemoryStore();
      const b = blob('not to be cached');
      upstream.put(b.desc, b.data);
      const cache = await openCache(dir);
      const src = new ReadThroughSource(upstream, cache, { fill: false });
      assert.equal(await read(src, b.desc), 'not to be cached');
      assert.equal(await cache.exists(b.desc), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a small cached blob with the wrong bytes is evicted and read from upstream again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-read-through-'));
    try {
      const upstream = new MemoryStore();
      const b = blob('the right bytes');
      upstream.put(b.desc, b.data);
      const cache = await openCache(dir);
      await writeFile(cache.blobPath(b.desc.digest), 'the wrong bytes');
      const src = new ReadThroughSource(upstream, cache);
      assert.equal(await read(src, b.desc), 'the right bytes');
      assert.equal(upstream.counts.fetch, 1, 'fetched from upstream after the eviction');
      assert.equal(await cache.holdsIntact(b.desc), true, 'the cache holds the right bytes now');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
