import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openDirTree, openTarTree, removeStaleUnpacked, type FileTree } from '../archive/index.js';
import type { ArchiveRecord } from '../bundle/index.js';
import type { ContentSource } from '../content/index.js';
import type { NodeSource } from '../copy/index.js';
import { AirlockError, DigestMismatchError, isAirlockError } from '../errors.js';
import { OciLayoutSource } from '../layout/index.js';
import type { Logger } from '../log.js';
import type { ImageArchiveEntry } from '../mirror/index.js';
import { createDigester, type Descriptor } from '../oci/index.js';
import { formatReference, formatRepository, isValidTag, parseReference, type Reference } from '../reference/index.js';
import { DockerArchiveSource } from '../tarball/index.js';

/** One image of an `archive:` / `layout:` entry, named for the target and ready to walk. */
export interface LocalImage {
  /** Registry and repository it is named by (the archive's name, or `to:`), no tag or digest. */
  readonly ref: Reference;
  readonly tag?: string;
  readonly desc: Descriptor;
  /** The root manifest's bytes when already read (a docker-archive's, made by airlock). */
  readonly rootBytes?: Buffer;
  readonly source: ContentSource;
  /** PlanNode origin of everything read from this archive or layout (its id opens it again: LocalSources.source). */
  readonly origin: NodeSource & { readonly kind: 'local' };
  readonly record: ArchiveRecord;
}

export interface LocalSourcesOptions {
  /** Where a compressed archive is uncompressed to while the export runs. */
  readonly tempDir: string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

interface Opened {
  readonly tree: FileTree;
  readonly source: DockerArchiveSource | OciLayoutSource;
  readonly format: ArchiveRecord['format'];
  readonly origin: NodeSource & { readonly kind: 'local' };
  readonly sha256?: string;
}

/**
 * The archives and layouts a mirror list names, opened once each (two entries may pick different
 * images of one archive) and read only through the FileTree of src/archive/ (no traversal, no
 * links out, no devices). Close it when the export ends: that removes uncompressed copies.
 */
export class LocalSources {
  readonly #opts: LocalSourcesOptions;
  readonly #opened = new Map<string, Promise<Opened>>();
  readonly #byId = new Map<string, ContentSource>();
  #swept = false;

  constructor(opts: LocalSourcesOptions) {
    this.#opts = opts;
  }

  /** The archive or layout behind a local NodeSource id this class handed out. */
  source(id: string): ContentSource | undefined {
    return this.#byId.get(id);
  }

  /**
   * The images `entry` asks for, each named for the target: repository from `to:` or the
   * archive's name for the image, tag from `tag:` or that name. A name that is missing and not
   * given, a `ref:` the archive does not hold, or two images that would get one name are
   * MIRROR_INVALID at the entry's file:line:col.
   */
  async resolveEntry(entry: ImageArchiveEntry): Promise<LocalImage[]> {
    const opened = await this.#open(entry);
    const name = basename(entry.path);
    const candidates = entry.ref !== undefined ? pick(opened, entry) : all(opened);
    const out = new Map<string, LocalImage>();
    for (const c of candidates) {
      const named = c.name !== undefined ? nameIn(c.name, opened.format === 'docker-archive', entry, name) : {};
      const repository = entry.to ?? named.repository;
      const tag = entry.tag ?? named.tag;
      if (!repository) {
        const why = c.name === undefined
          ? 'has no name in the archive (saved by ID, or no ref name annotation)'
          : `is named only \`${c.name}\`, a tag without a repository`;
        throw new AirlockError('MIRROR_INVALID', `an image of ${name} (${c.desc.digest}) ${why}`, {
          where: entry.where, hint: 'add `to: REPOSITORY` (e.g. to: ghcr.io/vendor/app) and, if you want one, `tag: TAG`',
        });
      }
      const key = `${formatRepository(repository)}:${tag ?? ''}`;
      const earlier = out.get(key);
      if (earlier && earlier.desc.digest !== c.desc.digest) {
        throw new AirlockError('MIRROR_INVALID', `two images of ${name} would both be ${formatRepository(repository)}${tag !== undefined ? `:${tag}` : ''} (${earlier.desc.digest} and ${c.desc.digest})`, {
          where: entry.where, hint: 'pick one with `ref:` (its name in the archive), or give each its own entry with `to:` / `tag:`',
        });
      }
      if (earlier) continue;
      out.set(key, {
        ref: { registry: repository.registry, repository: repository.repository }, ...(tag !== undefined ? { tag } : {}),
        desc: c.desc, ...(c.bytes ? { rootBytes: c.bytes } : {}), source: opened.source, origin: opened.origin,
        record: {
          format: opened.format, name, ...(c.name !== undefined ? { ref: c.name } : {}),
          manifest: opened.format === 'docker-archive' ? 'airlock' : 'archive', ...(opened.sha256 ? { sha256: opened.sha256 } : {}),
        },
      });
    }
    return [...out.values()];
  }

  async close(): Promise<void> {
    for (const p of this.#opened.values()) {
      const o = await p.catch(() => undefined);
      await o?.tree.close().catch(() => {});
    }
  }

  #open(entry: ImageArchiveEntry): Promise<Opened> {
    const key = `${entry.source} ${entry.path}`;
    let p = this.#opened.get(key);
    if (!p) {
      p = this.#openNow(entry);
      this.#opened.set(key, p);
    }
    return p;
  }

  async #openNow(entry: ImageArchiveEntry): Promise<Opened> {
    const sig = this.#opts.signal ? { signal: this.#opts.signal } : {};
    const name = basename(entry.path);
    const id = `${this.#opened.size}:${entry.path}`;
    try {
      if (entry.source === 'layout') {
        const tree = await openDirTree(entry.path);
        if (!(await OciLayoutSource.holdsLayout(tree))) {
          throw new AirlockError('MIRROR_INVALID', `layout ${entry.path} is not an OCI layout (no oci-layout and index.json)`, {
            where: entry.where, hint: 'make it with `skopeo copy ... oci:DIR`; a tar file is `archive:`',
          });
        }
        const source = await OciLayoutSource.open(tree);
        const origin = { kind: 'local' as const, id, name: `layout:${name}` };
        this.#byId.set(id, source);
        return { tree, source, format: 'oci-layout', origin };
      }
      const sha256 = entry.sha256 !== undefined ? await checkFileSha256(entry.path, entry.sha256, entry.where, this.#opts.signal) : undefined;
      if (!this.#swept) {
        this.#swept = true;
        const stale = await removeStaleUnpacked(this.#opts.tempDir);
        if (stale > 0) this.#opts.logger.info(`removed ${stale} uncompressed archive copy(ies) left by an interrupted export`);
      }
      const tree = await openTarTree(entry.path, { tempDir: this.#opts.tempDir, ...sig });
      if (tree.compression !== 'none') this.#opts.logger.debug(`${name}: ${tree.compression}-compressed; read through an uncompressed copy in ${this.#opts.tempDir}`);
      const origin = { kind: 'local' as const, id, name: `archive:${name}` };
      let opened: Opened;
      try {
        // An OCI layout wins when a tar is both (`docker save` from Docker 25 on): its manifests
        // and digests are the archive's own, where the docker-archive side would need new ones.
        if (await OciLayoutSource.holdsLayout(tree)) {
          opened = { tree, source: await OciLayoutSource.open(tree), format: 'oci-archive', origin, ...(sha256 ? { sha256 } : {}) };
        } else if (await DockerArchiveSource.holdsDockerArchive(tree)) {
          opened = { tree, source: await DockerArchiveSource.open(tree, sig), format: 'docker-archive', origin, ...(sha256 ? { sha256 } : {}) };
        } else {
          throw new AirlockError('MIRROR_INVALID', `archive ${entry.path} is neither a docker-archive (manifest.json) nor an oci-archive (oci-layout, index.json)`, {
            where: entry.where, hint: 'pass what `docker save`, `skopeo copy ... docker-archive:` or `oci-archive:` wrote (optionally .gz); a directory is `layout:`',
          });
        }
      } catch (err) {
        await tree.close().catch(() => {});
        throw err;
      }
      this.#byId.set(id, opened.source);
      return opened;
    } catch (err) {
      throw asEntryError(err, entry, name);
    }
  }
}

interface Candidate {
  /** The image's name in the archive, if any. */
  readonly name?: string;
  /** Other names it also answers to (a layout entry's ref name beside its containerd name). */
  readonly aliases: readonly string[];
  readonly desc: Descriptor;
  readonly bytes?: Buffer;
}

function all(o: Opened): Candidate[] {
  if (o.source instanceof DockerArchiveSource) {
    return o.source.images.flatMap((i) => (i.repoTags.length > 0 ? i.repoTags : [undefined]).map((name) => ({
      ...(name !== undefined ? { name } : {}), aliases: [], desc: i.desc, bytes: i.bytes,
    })));
  }
  return o.source.images.map((i) => {
    const name = i.imageName ?? i.refName;
    return { ...(name !== undefined ? { name } : {}), aliases: i.refName !== undefined ? [i.refName] : [], desc: i.desc };
  });
}

/** The images `ref:` names: exactly as written, or the same reference once normalised (`redis:7` = `docker.io/library/redis:7`). */
function pick(o: Opened, entry: ImageArchiveEntry): Candidate[] {
  const wanted = entry.ref!;
  const norm = normalised(wanted);
  const same = (n: string | undefined): boolean => n !== undefined && (n === wanted || (norm !== undefined && normalised(n) === norm));
  const found = all(o).filter((c) => same(c.name) || c.aliases.some(same));
  if (found.length === 0) {
    const names = [...new Set(all(o).map((c) => c.name).filter((n): n is string => n !== undefined))];
    throw new AirlockError('MIRROR_INVALID', `\`ref: ${wanted}\` is not in ${basename(entry.path)}`, {
      where: entry.where, hint: names.length > 0 ? `it holds: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}` : 'its images have no names: leave out `ref:` and give `to:`',
    });
  }
  return found;
}

function normalised(name: string): string | undefined {
  if (!/[/:@]/.test(name)) return undefined;
  try {
    return formatReference(parseReference(name));
  } catch {
    return undefined;
  }
}

/**
 * What an archive's name for an image says: a docker-archive's RepoTags entry is always a whole
 * name (`redis:7.2-alpine` is docker.io/library/redis:7.2-alpine, as `docker load` reads it); a
 * layout's ref name is a whole name when it has a `/` or `:` (skopeo writes `acme/app:1.0`),
 * and otherwise a tag (`v1`, the OCI image-layout spec's own use of it).
 */
function nameIn(name: string, whole: boolean, entry: ImageArchiveEntry, archive: string): { repository?: Reference; tag?: string } {
  if (!whole && !/[/:@]/.test(name)) return isValidTag(name) ? { tag: name } : {};
  let ref: Reference;
  try {
    ref = parseReference(name);
  } catch (err) {
    throw new AirlockError('MIRROR_INVALID', `${archive} names an image \`${name}\`, which is not an image name`, {
      where: entry.where, cause: err, hint: 'give the target name yourself with `to:` and `tag:`',
    });
  }
  return { repository: { registry: ref.registry, repository: ref.repository }, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) };
}

/** The archive file must hash to the checksum the mirror list gives (the vendor's `.sha256`). */
async function checkFileSha256(path: string, expected: string, where: string, signal?: AbortSignal): Promise<string> {
  const h = createDigester();
  let size = 0;
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      h.update(chunk);
      size += chunk.length;
    }
    yield* [];
  }, ...(signal ? [{ signal }] : []));
  const actual = h.digest('hex');
  if (actual !== expected) {
    throw new DigestMismatchError(`sha256:${expected}`, `sha256:${actual}`, size, {
      where, hint: `${basename(path)} is not the file the vendor published (or the checksum in the mirror list is wrong): get a fresh copy`,
    });
  }
  return actual;
}

/** Problems with the file the entry names are the mirror list's (exit 2) unless they are verification failures (exit 3). */
function asEntryError(err: unknown, entry: ImageArchiveEntry, name: string): unknown {
  if (!isAirlockError(err)) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') {
      return new AirlockError('MIRROR_INVALID', `${entry.source} ${entry.path} does not exist`, { where: entry.where, cause: err, hint: 'check the path: it is relative to the mirror list' });
    }
    return err;
  }
  switch (err.code) {
    case 'MIRROR_INVALID':
    case 'UNSAFE_ARCHIVE_ENTRY':
    case 'DIGEST_MISMATCH':
    case 'SIZE_MISMATCH':
    case 'ABORTED':
      return err;
    case 'IO': {
      const cause = err.cause as NodeJS.ErrnoException | undefined;
      if (cause?.code === 'ENOENT') {
        return new AirlockError('MIRROR_INVALID', `${entry.source} ${entry.path} does not exist`, { where: entry.where, cause: err, hint: 'check the path: it is relative to the mirror list' });
      }
      return err;
    }
    default:
      return new AirlockError('MIRROR_INVALID', `${entry.source} ${name} cannot be read: ${err.message}`, {
        where: entry.where, cause: err, ...(err.hint ? { hint: err.hint } : {}),
      });
  }
}
