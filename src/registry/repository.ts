import { Readable } from 'node:stream';
import type { CallOptions, TagOptions } from '../content/index.js';
import { AirlockError, DigestMismatchError, SizeMismatchError } from '../errors.js';
import {
  MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES, MEDIA_TYPE_DOCKER_MANIFEST_V1, MEDIA_TYPE_DOCKER_MANIFEST_V1_SIGNED, MEDIA_TYPE_OCI_INDEX,
  digestOf, isDigest, isManifestMediaType, isSchema1MediaType, parseManifest, type Descriptor, type Digest,
} from '../oci/index.js';
import { repositoryScope } from './auth.js';
import type { ReferrersAttempt, RegistryHost } from './host.js';
import { RegistryError } from './errors.js';
import { BLOB_HIGH_WATER_MARK, WIRE_MIN_BYTES, resumableBody } from './download.js';
import {
  HEADER_CONTENT_LENGTH, HEADER_CONTENT_TYPE, HEADER_DOCKER_CONTENT_DIGEST, HEADER_LINK, HEADER_LOCATION, HEADER_OCI_FILTERS_APPLIED,
  HEADER_OCI_SUBJECT, MAX_LIST_BODY_BYTES,
} from './headers.js';
import { parseLinkNext } from './link.js';
import { filterArtifactType, referrerDescriptors, referrersTag, subjectOf } from './referrers.js';
import { header, readBodyStrict, type TransportResponse } from './transport.js';
import type { RegistryRepository } from './types.js';
import { cancelUpload, startUpload, uploadBlob, type UploadContext } from './upload.js';
import { DEFAULT_RETRY_POLICY, backoffDelay, sleep } from './retry.js';

/** Manifest PUTs answered DIGEST_INVALID for bytes known to match (see pushManifest): asked again this often. */
const MANIFEST_DIGEST_RETRIES = 3;

/** Attempts at reading a manifest whose body broke off after the headers. */
const MANIFEST_BODY_ATTEMPTS = 4;

/**
 * Accept for manifests: OCI index and manifest, Docker list and schema 2, and schema 1 last so
 * an old image answers with its real type and gets a clear error instead of a conversion.
 */
const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, MEDIA_TYPE_DOCKER_MANIFEST_V1_SIGNED, MEDIA_TYPE_DOCKER_MANIFEST_V1].join(', ');

function mediaTypeOf(res: TransportResponse): string | undefined {
  const ct = header(res, HEADER_CONTENT_TYPE);
  return ct ? ct.split(';')[0]!.trim().toLowerCase() : undefined;
}

/** One repository of a registry: a ContentSource and ContentSink speaking the distribution spec. */
export class RegistryRepositoryImpl implements RegistryRepository {
  readonly client: RegistryHost;
  readonly name: string;
  readonly #where: string;
  /** An upload session checkPush kept open (`keep`) for the next upload sent whole: its URL. */
  #kept: string | undefined;

  constructor(client: RegistryHost, name: string) {
    this.client = client;
    this.name = name;
    this.#where = `${client.registry}/${name}`;
  }

  get #t() {
    return this.client.transport;
  }

  #pull(): string[] {
    return [repositoryScope(this.name, 'pull')];
  }

  #push(): string[] {
    return [repositoryScope(this.name, 'pull,push')];
  }

  #isManifest(desc: Pick<Descriptor, 'mediaType'>): boolean {
    return isManifestMediaType(desc.mediaType) || isSchema1MediaType(desc.mediaType);
  }

  async resolve(reference: string, opts: CallOptions = {}): Promise<Descriptor> {
    // HEAD first (spec "Checking if content exists"): no body, and Docker Hub does not count it against pull limits.
    const res = await this.#t.request({
      method: 'HEAD', url: `/v2/${this.name}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT },
      scopes: this.#pull(), ok: [200, 404], where: this.#where, repository: this.name, what: `manifest ${reference}`, signal: opts.signal,
    });
    await res.body.dump().catch(() => {});
    if (res.status === 200) {
      const digest = header(res, HEADER_DOCKER_CONTENT_DIGEST);
      const mediaType = mediaTypeOf(res);
      const size = Number(header(res, HEADER_CONTENT_LENGTH));
      if (isDigest(digest) && isManifestMediaType(mediaType) && Number.isSafeInteger(size) && size > 0 && size <= MAX_MANIFEST_BYTES
        && (!isDigest(reference) || digest === reference)) {
        return { mediaType: mediaType!, digest, size };
      }
    }
    // 404 (for the error body's precise code), or a HEAD that lacks what a descriptor needs: GET.
    return (await this.fetchManifest(reference, opts)).desc;
  }

  async fetchManifest(reference: string, opts: CallOptions = {}): Promise<{ desc: Descriptor; bytes: Buffer }> {
    return this.#fetchManifest(reference, opts, true);
  }

  /** `explain`: on 404, tell an unknown repository from an unknown manifest (one more request). */
  async #fetchManifest(reference: string, opts: CallOptions, explain: boolean): Promise<{ desc: Descriptor; bytes: Buffer }> {
    // The transport retries until the headers arrive; a body cut off after them is retried here.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#fetchManifestOnce(reference, opts, explain);
      } catch (err) {
        if (!(err instanceof RegistryError && err.code === 'NETWORK' && err.retryable) || attempt >= MANIFEST_BODY_ATTEMPTS || opts.signal?.aborted) throw err;
      }
    }
  }

  async #fetchManifestOnce(reference: string, opts: CallOptions, explain: boolean): Promise<{ desc: Descriptor; bytes: Buffer }> {
    const what = `manifest ${reference}`;
    const res = await this.#t.request({
      method: 'GET', url: `/v2/${this.name}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT },
      scopes: this.#pull(), ok: [200], where: this.#where, repository: this.name, what, signal: opts.signal,
    }).catch((err: unknown) => (explain ? this.#explainNotFound(err, opts) : Promise.reject(err)));
    const declared = Number(header(res, HEADER_CONTENT_LENGTH));
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new AirlockError('MANIFEST_INVALID', `${what} in ${this.#where} is ${declared} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`, {
        where: this.#where, hint: 'manifests are small JSON documents; this one is not a manifest or the registry is misbehaving',
      });
    }
    const bytes = await readBodyStrict(res.body, MAX_MANIFEST_BYTES, what, this.#where, 'MANIFEST_INVALID');
    const digest = digestOf(bytes);
    const expected = isDigest(reference) ? reference : header(res, HEADER_DOCKER_CONTENT_DIGEST);
    if (isDigest(reference) || isDigest(expected)) {
      if (digest !== expected) {
        throw new DigestMismatchError(expected as string, digest, bytes.length, {
          where: `${this.#where}@${reference}`,
          hint: 'the registry (or something between) sent a manifest that does not match its digest; retry, and report it to the registry operator if it persists',
        });
      }
    }
    const ct = mediaTypeOf(res);
    if (isSchema1MediaType(ct)) {
      throw new AirlockError('MANIFEST_INVALID', `${this.#where}:${reference} is a Docker schema 1 manifest, which is not supported`, {
        where: this.#where,
        hint: 'schema 1 is deprecated and cannot be copied with digests intact; push the image again with a current client (schema 2 or OCI)',
      });
    }
    let mediaType = isManifestMediaType(ct) ? ct! : undefined;
    if (!mediaType) {
      // Content-Type missing or generic: the document says what it is (parseManifest also rejects schema 1).
      mediaType = parseManifest(bytes, ct, `${this.#where}@${reference}`).mediaType;
    }
    const desc: Descriptor = { mediaType, digest, size: bytes.length };
    this.client.rememberManifest(digest, bytes);
    return { desc, bytes };
  }

  /**
   * Distribution answers MANIFEST_UNKNOWN for a manifest of a repository that does not exist; the
   * tag list tells the two apart (NAME_UNKNOWN), so the message says which one the user got wrong.
   */
  async #explainNotFound(err: unknown, opts: CallOptions): Promise<never> {
    if (!(err instanceof RegistryError) || err.code !== 'NOT_FOUND' || err.has('NAME_UNKNOWN')) throw err;
    const probe = await this.#t.request({
      method: 'GET', url: `/v2/${this.name}/tags/list?n=1`, scopes: this.#pull(), ok: [200, 404], where: this.#where, repository: this.name, signal: opts.signal,
    }).catch(() => undefined);
    if (probe?.status === 404) {
      const body = await readBodyStrict(probe.body, MAX_LIST_BODY_BYTES, 'the tag list', this.#where).catch(() => Buffer.alloc(0));
      if (body.includes('NAME_UNKNOWN')) {
        throw new RegistryError('NOT_FOUND', `repository ${this.#where} not found (NAME_UNKNOWN)`, {
          method: err.method, url: err.url, status: 404, where: this.#where, registry: this.client.registry, repository: this.name, cause: err,
          errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }, ...err.errors],
          hint: 'check the repository name (and the registry path prefix); the account may also lack access to it',
        });
      }
    } else {
      await probe?.body.dump().catch(() => {});
    }
    throw err;
  }

  async fetch(desc: Descriptor, opts: CallOptions = {}): Promise<Readable> {
    if (this.#isManifest(desc)) {
      // Manifests are small: read whole (capped), so a body cut off after the headers is retried
      // here and surfaces as a coded error, not as a raw socket error in the caller's stream.
      for (let attempt = 1; ; attempt++) {
        const res = await this.#t.request({
          method: 'GET', url: `/v2/${this.name}/manifests/${desc.digest}`, headers: { accept: `${desc.mediaType}, ${MANIFEST_ACCEPT}` },
          scopes: this.#pull(), ok: [200], where: this.#where, repository: this.name, what: `manifest ${desc.digest}`, signal: opts.signal,
        });
        try {
          return Readable.from([await readBodyStrict(res.body, MAX_MANIFEST_BYTES, `manifest ${desc.digest}`, this.#where, 'MANIFEST_INVALID')]);
        } catch (err) {
          if (!(err instanceof RegistryError && err.code === 'NETWORK' && err.retryable) || attempt >= MANIFEST_BODY_ATTEMPTS || opts.signal?.aborted) throw err;
        }
      }
    }
    const url = `/v2/${this.name}/blobs/${desc.digest}`;
    const get = (offset: number): Promise<TransportResponse> => this.#t.request({
      method: 'GET', url, headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: this.#pull(), ok: offset > 0 ? [200, 206] : [200], where: this.#where, repository: this.name, what: `blob ${desc.digest}`,
      signal: opts.signal, highWaterMark: BLOB_HIGH_WATER_MARK, wire: desc.size >= WIRE_MIN_BYTES,
    });
    const first = await get(0);
    return resumableBody(first, { transport: this.#t, desc, where: `${this.#where}@${desc.digest}`, reopen: get, signal: opts.signal });
  }

  async exists(desc: Descriptor, opts: CallOptions = {}): Promise<boolean> {
    const kind = this.#isManifest(desc) ? 'manifests' : 'blobs';
    const res = await this.#t.request({
      method: 'HEAD', url: `/v2/${this.name}/${kind}/${desc.digest}`, headers: kind === 'manifests' ? { accept: MANIFEST_ACCEPT } : {},
      scopes: this.#pull(), ok: [200, 404], where: this.#where, repository: this.name, what: `${kind === 'manifests' ? 'manifest' : 'blob'} ${desc.digest}`, signal: opts.signal,
    });
    await res.body.dump().catch(() => {});
    return res.status === 200;
  }

  async push(desc: Descriptor, body: Readable, opts: CallOptions = {}): Promise<void> {
    if (this.#isManifest(desc)) {
      const bytes = await readManifestBody(body, desc, this.#where);
      await this.pushManifest(desc, bytes, desc.digest, opts);
      return;
    }
    const ctx: UploadContext = {
      transport: this.#t, repository: this.name, where: this.#where, scopes: this.#push(),
      chunkSize: this.client.chunkSize, monolithicMax: this.client.monolithicMax, held: this.client.held, signal: opts.signal,
      takeSession: () => {
        const kept = this.#kept;
        this.#kept = undefined;
        return kept;
      },
    };
    await uploadBlob(ctx, desc, body);
  }

  async pushManifest(desc: Descriptor, bytes: Buffer, reference: string, opts: CallOptions = {}): Promise<void> {
    if (bytes.length !== desc.size) throw new SizeMismatchError(desc.digest, desc.size, bytes.length, { where: this.#where });
    const actual = digestOf(bytes);
    if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual, bytes.length, { where: this.#where });
    // The exact bytes, with the descriptor's media type (spec "Pushing Manifests").
    const put = (): Promise<TransportResponse> => this.#t.request({
      method: 'PUT', url: `/v2/${this.name}/manifests/${reference}`, headers: { 'content-type': desc.mediaType }, body: bytes,
      scopes: this.#push(), ok: [200, 201, 202], where: this.#where, repository: this.name, what: `manifest ${reference === desc.digest ? desc.digest : `${reference} (${desc.digest})`}`,
      push: true, signal: opts.signal,
    });
    let res: TransportResponse;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await put();
        break;
      } catch (err) {
        // The bytes were checked against the digest above, so DIGEST_INVALID is not about them.
        // Distribution answers it for an index whose child manifest it failed to read: its
        // filesystem driver rewrites a manifest's link file in place, and another importer
        // (volumes imported at once, docs/scale-out.md) was pushing that same child. Ask again.
        if (attempt >= MANIFEST_DIGEST_RETRIES || !(err instanceof RegistryError && err.has('DIGEST_INVALID')) || opts.signal?.aborted) throw err;
        await sleep(backoffDelay(DEFAULT_RETRY_POLICY, attempt), opts.signal);
      }
    }
    await res.body.dump().catch(() => {});
    const echoed = header(res, HEADER_DOCKER_CONTENT_DIGEST);
    if (isDigest(echoed) && echoed !== desc.digest) {
      throw new DigestMismatchError(desc.digest, echoed, bytes.length, {
        where: this.#where, hint: 'the registry stored the manifest under another digest (it rewrote it); it cannot hold this content unchanged',
      });
    }
    this.client.rememberManifest(desc.digest, bytes);
    const sub = subjectOf(bytes);
    if (sub) {
      if (header(res, HEADER_OCI_SUBJECT) !== undefined) {
        this.client.setReferrersApi(true);
      } else {
        // Spec "Pushing Manifests with Subject": without OCI-Subject the client keeps the tag-schema index.
        await this.#addToFallbackIndex(sub.subject.digest, fallbackEntry(desc, sub), opts);
      }
    }
  }

  async ensureReferrerListed(desc: Descriptor, bytes: Buffer, opts: CallOptions = {}): Promise<void> {
    const sub = subjectOf(bytes);
    if (!sub || (await this.client.supportsReferrersApi(this.name, opts))) return;
    await this.#addToFallbackIndex(sub.subject.digest, fallbackEntry(desc, sub), opts);
  }

  async referrerListed(desc: Descriptor, bytes: Buffer, opts: CallOptions = {}): Promise<boolean> {
    const sub = subjectOf(bytes);
    if (!sub || (await this.client.supportsReferrersApi(this.name, opts))) return true;
    return (await this.#fallbackEntries(referrersTag(sub.subject.digest), opts)).some((d) => d.digest === desc.digest);
  }

  /** The entries of the tag-schema fallback index `tag`; none when it is not there. */
  async #fallbackEntries(tag: string, opts: CallOptions): Promise<Descriptor[]> {
    try {
      const { bytes } = await this.#fetchManifest(tag, opts, false);
      return referrerDescriptors(bytes, `${this.#where}:${tag}`);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  // One way to write an entry, whichever path adds it, so the index bytes do not depend on history.
  async #addToFallbackIndex(subject: Digest, entry: Descriptor, opts: CallOptions): Promise<void> {
    const tag = referrersTag(subject);
    await this.client.withLock(`${this.name}:${tag}`, async () => {
      const existing = await this.#fallbackEntries(tag, opts);
      if (existing.some((d) => d.digest === entry.digest)) return;
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [...existing, entry] }));
      const desc: Descriptor = { mediaType: MEDIA_TYPE_OCI_INDEX, digest: digestOf(index), size: index.length };
      await this.pushManifest(desc, index, tag, opts);
    });
  }

  async tagPointsAt(desc: Descriptor, tag: string, opts: CallOptions = {}): Promise<boolean> {
    const res = await this.#t.request({
      method: 'HEAD', url: `/v2/${this.name}/manifests/${tag}`, headers: { accept: MANIFEST_ACCEPT },
      // The push scopes (pull,push): the token a tag move needs anyway, not a second one.
      scopes: this.#push(), ok: [200, 404], where: this.#where, repository: this.name, what: `tag ${tag}`, signal: opts.signal,
    });
    await res.body.dump().catch(() => {});
    return res.status === 200 && header(res, HEADER_DOCKER_CONTENT_DIGEST) === desc.digest;
  }

  async tag(desc: Descriptor, tag: string, opts: TagOptions = {}): Promise<void> {
    // Already pointing there: nothing to move. One HEAD instead of a GET and a PUT.
    if (opts.known !== 'elsewhere' && (await this.tagPointsAt(desc, tag, opts))) return;
    const bytes = this.client.recallManifest(desc.digest) ?? (await this.fetchManifest(desc.digest, opts)).bytes;
    await this.pushManifest(desc, bytes, tag, opts);
  }

  async tags(opts: CallOptions = {}): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const page of this.#pages(`/v2/${this.name}/tags/list`, this.#pull(), 'the tag list', opts)) {
        const tags = (page as { tags?: unknown }).tags;
        if (Array.isArray(tags)) for (const t of tags) if (typeof t === 'string') out.push(t);
      }
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
    return out;
  }

  /** Follow `Link: <…>; rel="next"` (spec "Listing Tags"). */
  async *#pages(first: string, scopes: string[], what: string, opts: CallOptions): AsyncGenerator<unknown> {
    let url: string | undefined = first;
    for (let i = 0; url && i < 100_000; i++) {
      const res: TransportResponse = await this.#t.request({ method: 'GET', url, scopes, ok: [200], where: this.#where, repository: this.name, what, signal: opts.signal });
      const body = await readBodyStrict(res.body, MAX_LIST_BODY_BYTES, what, this.#where);
      yield parseJson(body, what, this.#where);
      url = parseLinkNext(header(res, HEADER_LINK), res.url);
    }
  }

  async referrers(subject: Descriptor, opts: CallOptions & { artifactType?: string; knownTags?: ReadonlySet<string> } = {}): Promise<Descriptor[]> {
    const viaApi = await this.client.decideReferrers(() => this.#referrersApi(subject, opts));
    if (viaApi) return viaApi;
    if (opts.knownTags && !opts.knownTags.has(referrersTag(subject.digest))) return [];
    return this.#referrersFallback(subject, opts);
  }

  /** The referrers API (spec "Listing Referrers"), and whether its answer shows the registry has it. */
  async #referrersApi(subject: Descriptor, opts: CallOptions & { artifactType?: string }): Promise<ReferrersAttempt> {
    const q = opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : '';
    let url: string | undefined = `/v2/${this.name}/referrers/${subject.digest}${q}`;
    const out: Descriptor[] = [];
    let filtered = true;
    for (let i = 0; url && i < 10_000; i++) {
      const res: TransportResponse = await this.#t.request({
        method: 'GET', url, headers: { accept: MEDIA_TYPE_OCI_INDEX }, scopes: this.#pull(), ok: [200, 400, 404, 405],
        where: this.#where, repository: this.name, what: `referrers of ${subject.digest}`, signal: opts.signal,
      });
      if (res.status !== 200) {
        const body = await readBodyStrict(res.body, MAX_LIST_BODY_BYTES, 'referrers', this.#where).catch(() => Buffer.alloc(0));
        // A repository that does not exist says NAME_UNKNOWN on registries with the API: no decision.
        if (res.status === 404 && /NAME_UNKNOWN/.test(body.toString('utf8'))) return { kind: 'unknown', descs: [] };
        if (i === 0) return { kind: 'unsupported' };
        break;
      }
      // Distribution without the API may answer a catch-all 200 that is not an index.
      const ct = mediaTypeOf(res);
      const body = await readBodyStrict(res.body, MAX_LIST_BODY_BYTES, 'referrers', this.#where);
      if (i === 0 && ct !== MEDIA_TYPE_OCI_INDEX && !/"manifests"/.test(body.toString('utf8'))) return { kind: 'unsupported' };
      out.push(...referrerDescriptors(body, `${this.#where} referrers of ${subject.digest}`));
      if (!(header(res, HEADER_OCI_FILTERS_APPLIED) ?? '').split(',').map((s) => s.trim()).includes('artifactType')) filtered = false;
      url = parseLinkNext(header(res, HEADER_LINK), res.url);
    }
    return { kind: 'api', descs: filtered ? out : filterArtifactType(out, opts.artifactType) };
  }

  async #referrersFallback(subject: Descriptor, opts: CallOptions & { artifactType?: string }): Promise<Descriptor[]> {
    const tag = referrersTag(subject.digest);
    try {
      const { bytes } = await this.#fetchManifest(tag, opts, false);
      return filterArtifactType(referrerDescriptors(bytes, `${this.#where}:${tag}`), opts.artifactType);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  async mount(desc: Descriptor, fromRepository: string, opts: CallOptions = {}): Promise<boolean> {
    if (fromRepository === this.name) return this.exists(desc, opts);
    const ctx = {
      transport: this.#t, repository: this.name, where: this.#where,
      // Distribution checks pull access on the source repository of a mount.
      scopes: [...this.#push(), repositoryScope(fromRepository, 'pull')], signal: opts.signal,
      chunkSize: 0, monolithicMax: 0,
    };
    const res = await startUpload(ctx, `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`);
    await res.body.dump().catch(() => {});
    if (res.status === 201) return true;
    // 202: the registry opened an ordinary upload session instead (spec "Mounting a blob from another repository").
    const loc = header(res, HEADER_LOCATION);
    if (loc) await cancelUpload(ctx, this.#t.resolveUrl(loc).toString());
    return false;
  }

  async checkPush(opts: CallOptions & { readonly keep?: boolean } = {}): Promise<void> {
    const ctx = {
      transport: this.#t, repository: this.name, where: this.#where, scopes: this.#push(), signal: opts.signal, chunkSize: 0, monolithicMax: 0,
    };
    const res = await startUpload(ctx);
    await res.body.dump().catch(() => {});
    const loc = header(res, HEADER_LOCATION);
    if (!loc) return;
    const url = this.#t.resolveUrl(loc).toString();
    if (opts.keep && this.#kept === undefined) this.#kept = url;
    else await cancelUpload(ctx, url);
  }

  async releaseKept(opts: CallOptions = {}): Promise<void> {
    const url = this.#kept;
    this.#kept = undefined;
    if (url) await cancelUpload({ transport: this.#t, scopes: this.#push(), where: this.#where }, url, opts.signal);
  }

  async readable(opts: CallOptions = {}): Promise<boolean> {
    try {
      const res = await this.#t.request({
        method: 'GET', url: `/v2/${this.name}/tags/list?n=1`, scopes: this.#pull(), ok: [200, 404], where: this.#where, repository: this.name, what: 'the tag list', signal: opts.signal,
      });
      await res.body.dump().catch(() => {});
      return true;
    } catch (err) {
      // Refused: by the registry (401/403), or by its token service for this name (Quay's NAME_INVALID).
      if (err instanceof RegistryError && (err.code === 'AUTH' || err.has('NAME_INVALID') || err.has('DENIED') || err.has('UNAUTHORIZED'))) return false;
      throw err;
    }
  }

  async delete(desc: Descriptor, opts: CallOptions = {}): Promise<boolean> {
    const kind = this.#isManifest(desc) ? 'manifests' : 'blobs';
    const res = await this.#t.request({
      method: 'DELETE', url: `/v2/${this.name}/${kind}/${desc.digest}`, scopes: [repositoryScope(this.name, '*')],
      ok: [200, 202, 204, 404, 405], where: this.#where, repository: this.name, what: `${kind === 'manifests' ? 'manifest' : 'blob'} ${desc.digest}`, push: true, signal: opts.signal,
    }).catch((err: unknown) => {
      // Deletion disabled or not allowed for this account: report "not deleted", do not fail.
      if (err instanceof RegistryError && (err.code === 'AUTH' || err.has('UNSUPPORTED'))) return undefined;
      throw err;
    });
    if (!res) return false;
    await res.body.dump().catch(() => {});
    return res.status === 200 || res.status === 202 || res.status === 204;
  }
}

/**
 * One referrers API call: `api` shows the registry has the API, `unsupported` that it does not,
 * `unknown` (NAME_UNKNOWN) decides nothing.
 */
async function readManifestBody(body: Readable, desc: Descriptor, where: string): Promise<Buffer> {
  if (desc.size > MAX_MANIFEST_BYTES) {
    body.destroy();
    throw new AirlockError('MANIFEST_INVALID', `manifest ${desc.digest} is ${desc.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`, { where });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > desc.size) {
      body.destroy();
      throw new SizeMismatchError(desc.digest, desc.size, n, { where });
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

function parseJson(body: Buffer, what: string, where: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new AirlockError('REGISTRY', `${where} sent ${what} that is not JSON`, { where, cause: err, hint: 'the registry is misbehaving; run with --verbose' });
  }
}

/** The descriptor a referrers fallback index lists for a referrer (spec "Referrers tag schema"). */
function fallbackEntry(desc: Descriptor, sub: NonNullable<ReturnType<typeof subjectOf>>): Descriptor {
  return {
    mediaType: desc.mediaType, digest: desc.digest, size: desc.size,
    ...(sub.artifactType ? { artifactType: sub.artifactType } : {}), ...(sub.annotations ? { annotations: sub.annotations } : {}),
  };
}
