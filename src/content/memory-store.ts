import { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';
import { isDigest, type Descriptor, type Digest } from '../oci/index.js';
import type { CallOptions, ContentSink, ContentSource, ReferrerLister } from './types.js';
import { readVerified } from './verify-stream.js';

/** A real in-memory store: the engine's manifest cache and the unit tests' store. */
export class MemoryStore implements ContentSource, ContentSink, ReferrerLister {
  readonly #blobs = new Map<Digest, { desc: Descriptor; data: Buffer }>();
  readonly #tags = new Map<string, Descriptor>();
  /** Counts of calls, for tests that prove idempotency. */
  readonly counts = { push: 0, fetch: 0, exists: 0, tag: 0 };

  async resolve(reference: string): Promise<Descriptor> {
    if (isDigest(reference)) {
      const b = this.#blobs.get(reference);
      if (b) return b.desc;
    }
    const d = this.#tags.get(reference);
    if (!d) throw new AirlockError('NOT_FOUND', `${reference} not found`);
    return d;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    this.counts.fetch++;
    const b = this.#blobs.get(desc.digest);
    if (!b) throw new AirlockError('NOT_FOUND', `${desc.digest} not found`);
    return Readable.from([b.data]);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    this.counts.exists++;
    return this.#blobs.has(desc.digest);
  }

  async push(desc: Descriptor, body: Readable, _opts?: CallOptions): Promise<void> {
    this.counts.push++;
    const data = await readVerified(body, desc, Number.MAX_SAFE_INTEGER);
    this.#blobs.set(desc.digest, { desc, data });
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    this.counts.tag++;
    if (!this.#blobs.has(desc.digest)) throw new AirlockError('INTERNAL', `tagging ${desc.digest} before it is pushed`);
    this.#tags.set(tag, desc);
  }

  async referrers(subject: Descriptor, opts: { artifactType?: string } = {}): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const { desc, data } of this.#blobs.values()) {
      try {
        const doc = JSON.parse(data.toString('utf8')) as { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string } };
        if (doc.subject?.digest !== subject.digest) continue;
        const artifactType = doc.artifactType ?? doc.config?.mediaType;
        if (opts.artifactType && artifactType !== opts.artifactType) continue;
        out.push({ ...desc, ...(artifactType ? { artifactType } : {}) });
      } catch {
        // not JSON: a layer, never a referrer
      }
    }
    return out;
  }

  /** Test helper: put raw bytes without the sink protocol. */
  put(desc: Descriptor, data: Buffer): void {
    this.#blobs.set(desc.digest, { desc, data });
  }

  get tagNames(): string[] {
    return [...this.#tags.keys()];
  }

  get size(): number {
    return this.#blobs.size;
  }
}
