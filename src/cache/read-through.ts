import { Readable } from 'node:stream';
import { mismatchedDigest } from '../errors.js';
import { readVerified, type CallOptions, type ContentSource } from '../content/index.js';
import type { Descriptor } from '../oci/index.js';
import type { DownloadCache } from './download-cache.js';

/** Blobs up to this size read from the cache are checked before they are handed out. */
const SMALL_CACHED_BLOB = 4 << 20;

export interface ReadThroughOptions {
  /** Store what the cache lacks before handing it out (false: a dry run only reads the cache). Default true. */
  readonly fill?: boolean;
}

/**
 * `upstream` with blob fetches served from the download cache when it holds them (and, with
 * `fill`, stored there first when it does not): every byte is verified on the way into the cache.
 * Resolving a reference always asks `upstream`: the cache holds content, not tags.
 */
export class ReadThroughSource implements ContentSource {
  readonly #upstream: ContentSource;
  readonly #cache: DownloadCache;
  readonly #fill: boolean;

  constructor(upstream: ContentSource, cache: DownloadCache, opts: ReadThroughOptions = {}) {
    this.#upstream = upstream;
    this.#cache = cache;
    this.#fill = opts.fill ?? true;
  }

  resolve(reference: string, opts?: CallOptions): Promise<Descriptor> {
    return this.#upstream.resolve(reference, opts);
  }

  async exists(desc: Descriptor, opts?: CallOptions): Promise<boolean> {
    return (await this.#cache.exists(desc)) || this.#upstream.exists(desc, opts);
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    const cache = this.#cache;
    if (await cache.exists(desc)) {
      if (desc.size > SMALL_CACHED_BLOB) return cache.fetch(desc, opts);
      // The cache is a hint: a small blob (a signature's payload) is read and checked here, and a
      // wrong copy evicted and downloaded again instead of failing the signature check.
      try {
        return Readable.from([await readVerified(await cache.fetch(desc, opts), desc, SMALL_CACHED_BLOB, { where: `blob ${desc.digest} in the download cache` })]);
      } catch (err) {
        if (mismatchedDigest(err) === undefined) throw err;
        await cache.evict(desc.digest);
      }
    }
    if (!this.#fill) return this.#upstream.fetch(desc, opts);
    await cache.push(desc, await this.#upstream.fetch(desc, opts), opts);
    return cache.fetch(desc, opts);
  }
}
