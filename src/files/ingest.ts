import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, ioError } from '../errors.js';
import type { LayoutStore } from '../layout/index.js';
import type { Digest } from '../oci/index.js';
import { fetchUrl, type FetchUrlOptions } from '../registry/index.js';
import { redactUrl } from '../util/index.js';

export interface IngestedBlob {
  readonly digest: Digest;
  readonly size: number;
  /** True when the cache held it and nothing was read or downloaded. */
  readonly cached: boolean;
}

export interface IngestUrlOptions extends Omit<FetchUrlOptions, 'where'> {
  readonly cache: LayoutStore;
  /** Mirror list position of the entry. */
  readonly where: string;
  /** What the bytes are, for messages: `file checksums.txt`, `chart redis 18.6.1`. */
  readonly what: string;
  /** The digest the bytes must have; absent: whatever arrives (then reported). */
  readonly expected?: Digest;
  /** Where the expected digest came from, for the hint (`the mirror list`, `index.yaml`). */
  readonly expectedFrom?: string;
}

/**
 * Download `url` into the content-addressed cache, hashing while it streams; a digest other than
 * `expected` fails with DIGEST_MISMATCH (exit 3) and leaves nothing behind. When the cache already
 * holds `expected`, nothing is downloaded.
 */
export async function ingestUrl(url: string, o: IngestUrlOptions): Promise<IngestedBlob> {
  if (o.expected) {
    const have = await cachedSize(o.cache, o.expected);
    if (have !== undefined) return { digest: o.expected, size: have, cached: true };
  }
  const res = await fetchUrl(url, { ...o, where: o.where });
  return ingestStream(res.body, o.cache, {
    where: o.where,
    check: (actual, size) => {
      if (o.expected && actual !== o.expected) {
        return new AirlockError('DIGEST_MISMATCH', `${o.what}: ${redactUrl(url)} has ${actual} (${size} bytes), but ${o.expectedFrom ?? 'the mirror list'} says ${o.expected}`, {
          where: o.where,
          hint: 'the download was damaged or the file changed upstream: check the URL and the expected sha256, then export again',
        });
      }
      return undefined;
    },
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

/** Copy a local file into the cache, hashing while it streams. */
export async function ingestPath(path: string, cache: LayoutStore, where: string, signal?: AbortSignal): Promise<IngestedBlob> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new AirlockError('USAGE', `${path} is not a regular file`, { where, hint: 'files: entries name files, not directories' });
  } catch (err) {
    throw err instanceof AirlockError ? err : ioError(err, 'read', path);
  }
  return ingestStream(createReadStream(path, { highWaterMark: 1 << 20 }), cache, { where, check: () => undefined, ...(signal ? { signal } : {}) });
}

async function ingestStream(
  body: Readable,
  cache: LayoutStore,
  o: { readonly where: string; readonly check: (actual: Digest, size: number) => AirlockError | undefined; readonly signal?: AbortSignal },
): Promise<IngestedBlob> {
  await cache.init();
  const dir = join(cache.root, 'ingest');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `download.${randomUUID()}`);
  const hash = createHash('sha256');
  let size = 0;
  const hasher = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(body, hasher, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }), ...(o.signal ? [{ signal: o.signal }] : []));
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    const bad = o.check(digest, size);
    if (bad) throw bad;
    // Verified while it streamed: move it into the store under its digest.
    await rename(tmp, cache.blobPath(digest));
    return { digest, size, cached: false };
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err instanceof AirlockError ? err : ioError(err, 'download into the cache at', dir);
  }
}

async function cachedSize(cache: LayoutStore, digest: Digest): Promise<number | undefined> {
  try {
    const s = await stat(cache.blobPath(digest));
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}
