import { pipeline, type Readable } from 'node:stream';
import { isVerifiedFor, verifyStream, type CallOptions, type ContentSource } from '../content/index.js';
import type { Descriptor } from '../oci/index.js';

export interface CacheFirstOptions {
  /** Names a blob's origin in errors, e.g. `docker.io/library/nginx`. */
  readonly whereOf?: (desc: Descriptor) => string;
  /**
   * A blob was served: from the cache (called when it is opened) or from upstream (called when
   * its last byte has passed the check).
   */
  readonly onServed?: (desc: Descriptor, from: 'cache' | 'upstream') => void;
}

/**
 * The verified bytes of a blob, from the cache when it holds one, else from upstream: the export's
 * in-place bundle writer reads its layers through it. Both are checked while they stream (a cache
 * file is a file on disk, a hint); a stream that already checks itself (a read through a
 * reference into an earlier bundle, see content/verify-stream.ts `isVerifiedFor`) is not hashed
 * twice.
 */
export class CacheFirstSource implements ContentSource {
  readonly #cache: ContentSource;
  readonly #upstream: ContentSource;
  readonly #opts: CacheFirstOptions;

  constructor(cache: ContentSource, upstream: ContentSource, opts: CacheFirstOptions = {}) {
    this.#cache = cache;
    this.#upstream = upstream;
    this.#opts = opts;
  }

  resolve(reference: string, opts?: CallOptions): Promise<Descriptor> {
    return this.#upstream.resolve(reference, opts);
  }

  async exists(desc: Descriptor, opts: CallOptions = {}): Promise<boolean> {
    return (await this.#cache.exists(desc, opts)) || this.#upstream.exists(desc, opts);
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    const where = `blob ${desc.digest} (${this.#opts.whereOf?.(desc) ?? 'upstream'})`;
    if (await this.#cache.exists(desc, opts)) {
      this.#opts.onServed?.(desc, 'cache');
      const cached = await this.#cache.fetch(desc, opts);
      if (isVerifiedFor(cached, desc)) return cached;
      return pipeline(cached, verifyStream(desc, { where: `cached ${where}` }), () => {});
    }
    const body = pipeline(await this.#upstream.fetch(desc, opts), verifyStream(desc, { where }), () => {});
    body.once('end', () => this.#opts.onServed?.(desc, 'upstream'));
    return body;
  }
}
