/**
 * Import's preflight: before the first byte of a bundle is pushed, make sure the target takes what
 * the import is about to write, and when it does not, say which product rule stands in the way and
 * what to do. Registries differ in documented ways (docs/RELIABILITY.md "Registry personalities"):
 *
 * - Harbor keeps repositories in projects that must exist; a push into a missing one is refused
 *   (401 "project NAME not found", or 404 NAME_UNKNOWN). → PROJECT_MISSING naming the project, or,
 *   with --create-projects, the project is created through Harbor's API and the import goes on.
 * - Quay without nested repository names takes only `namespace/repository`, GitLab only its project
 *   path plus two levels: deeper paths are refused (NAME_INVALID, or no access at all). →
 *   PATH_TOO_DEEP with a --to prefix or --layout that fits.
 * - zot refuses Docker media types, Quay without OCI support refuses OCI ones (415). →
 *   MEDIA_TYPE_UNSUPPORTED naming the artifacts that need the type.
 *
 * When it runs: from the copy engine's `beforeWrite` hook, once the target has been asked what it
 * holds and only when something is to be written (a no-op re-import writes nothing and asks
 * nothing more). Each repository that will receive a write gets an upload session opened, which
 * stores nothing; the session is kept for that repository's first blob sent whole (a POST and a
 * DELETE saved per repository) and cancelled at the end when none took it (releaseKept); each
 * manifest media type to be pushed gets its smallest document
 * pushed by digest into the first such repository and deleted again (registry/media-check.ts). A
 * refusal therefore stops the import before any blob of the bundle is pushed, so there is never a
 * half-imported set to clean up. Refusals that come earlier, while the target is only being read
 * (Harbor and GitLab refuse reads too), go through the same diagnosis (`guard`).
 */
import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PendingWrites, PlannedRoot } from '../copy/index.js';
import { MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST } from '../oci/index.js';
import { mapRepository, type RepositoryLayout, type TargetRegistry } from '../reference/index.js';
import {
  checkManifestMediaTypes, isRepositoryRefusal, type RegistryClient, type RegistryError, type RegistryRepository,
} from '../registry/index.js';
import { forEachConcurrent } from '../util/index.js';

export interface PreflightOptions {
  readonly client: RegistryClient;
  readonly repoFor: (path: string) => RegistryRepository;
  readonly target: TargetRegistry;
  readonly layout: RepositoryLayout;
  /** Source repositories of the bundle (`registry` and path), for proposing a mapping that fits. */
  readonly sources: readonly SourceRepository[];
  /** Every target repository of this import. */
  readonly repositories: readonly string[];
  /** Create missing Harbor projects (`--create-projects`). Default false. */
  readonly createProjects?: boolean;
  readonly dryRun?: boolean;
  readonly concurrency?: number;
  /** Names an artifact in errors (its source reference). */
  readonly describeRoot: (root: PlannedRoot) => string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

export interface SourceRepository {
  readonly registry: string;
  readonly repository: string;
}

/** Manifest media types a registry may refuse, named for people. */
const MEDIA_TYPE_NAMES: Readonly<Record<string, string>> = {
  [MEDIA_TYPE_OCI_INDEX]: 'OCI image indexes',
  [MEDIA_TYPE_OCI_MANIFEST]: 'OCI image manifests',
  [MEDIA_TYPE_DOCKER_MANIFEST_LIST]: 'Docker manifest lists',
  [MEDIA_TYPE_DOCKER_MANIFEST]: 'Docker schema 2 manifests',
};

const depthOf = (path: string): number => path.split('/').length;
/** Repositories of each path depth asked whether they can be read, when diagnosing a refused read. */
const READ_SAMPLE_PER_DEPTH = 16;
const projectOf = (path: string): string => path.split('/')[0]!;

export class ImportPreflight {
  readonly #o: PreflightOptions;
  /** Repositories whose upload session opened: they take pushes. */
  readonly #accepted = new Set<string>();
  /** Repositories the registry let us read (diagnosis only: such a path is not too deep). */
  readonly #readable = new Set<string>();
  /** Set once `beforeWrite` let the writes start: from then on a failure is reported as it is. */
  #writing = false;
  /** Errors already diagnosed and found to need no other words. */
  readonly #explained = new WeakSet<object>();
  readonly #created: string[] = [];

  constructor(opts: PreflightOptions) {
    this.#o = opts;
  }

  /** Harbor projects this import created. */
  get createdProjects(): readonly string[] {
    return this.#created;
  }

  /** The copy engine's `beforeWrite`: every repository takes pushes, every manifest media type is accepted. */
  async beforeWrite(pending: PendingWrites): Promise<void> {
    await this.checkRepositories(pending.repositories);
    await this.#checkMediaTypes(pending);
    this.#writing = true;
  }

  /**
   * Cancel the upload sessions checkRepositories kept that no upload took. Never throws, and gives
   * up after a few seconds (a registry that stopped answering purges abandoned sessions itself).
   */
  async releaseKept(): Promise<void> {
    const signal = AbortSignal.timeout(5_000);
    await forEachConcurrent([...this.#accepted], this.#o.concurrency ?? 8, async (r) => {
      await this.#o.repoFor(r).releaseKept({ signal }).catch(() => {});
    }).catch(() => {});
  }

  /** Open an upload session in each repository not checked yet (kept: see the module comment); explain any refusal. */
  async checkRepositories(repositories: readonly string[]): Promise<void> {
    const refusals = await this.#tryPush(repositories.filter((r) => !this.#accepted.has(r)));
    if (refusals.length === 0) return;
    await this.#explain(refusals);
    // Projects were created: the same repositories again; a refusal now is reported as it is.
    const again = await this.#tryPush(refusals.map((r) => r.repository));
    if (again.length > 0) throw this.#mark(again[0]!.error);
  }

  /**
   * Run the copy; when the target refused a repository while it was only being read (before any
   * write), explain the refusal, and run once more if that created what was missing.
   */
  async guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (this.#writing || this.#o.signal?.aborted || !isRepositoryRefusal(err) || this.#explained.has(err)) throw err;
      const where = refusedRepository(err, this.#o.client.registry);
      const unreadable: Refusal[] = [];
      const sample = [...new Set([...(where && this.#o.repositories.includes(where) ? [where] : []), ...sampleByDepth(this.#o.repositories, READ_SAMPLE_PER_DEPTH)])];
      await forEachConcurrent(sample, this.#o.concurrency ?? 8, async (r) => {
        if (await this.#o.repoFor(r).readable(this.#call())) this.#readable.add(r);
        else unreadable.push({ repository: r, error: err });
      }, this.#o.signal);
      const refusals = unreadable.length > 0 ? unreadable : where ? [{ repository: where, error: err }] : [];
      if (refusals.length === 0) throw err;
      await this.#explain(refusals, unreadable.length > 0);
      return run();
    }
  }

  #call(): { signal?: AbortSignal } {
    return this.#o.signal ? { signal: this.#o.signal } : {};
  }

  #mark<E extends object>(err: E): E {
    this.#explained.add(err);
    return err;
  }

  async #tryPush(repositories: readonly string[]): Promise<Refusal[]> {
    const refusals: Refusal[] = [];
    await forEachConcurrent(repositories, this.#o.concurrency ?? 8, async (r) => {
      try {
        // Kept for the repository's first upload (a dry run pushes nothing: cancelled at once).
        await this.#o.repoFor(r).checkPush({ ...this.#call(), keep: !this.#o.dryRun });
        this.#accepted.add(r);
      } catch (err) {
        if (this.#o.signal?.aborted || !isRepositoryRefusal(err)) throw err;
        refusals.push({ repository: r, error: err });
      }
    }, this.#o.signal);
    const order = new Map(repositories.map((r, i) => [r, i]));
    return refusals.sort((a, b) => order.get(a.repository)! - order.get(b.repository)!);
  }

  /**
   * Why did the target refuse these repositories? Throws the coded error that says it; returns
   * only after it created missing Harbor projects (--create-projects).
   */
  async #explain(refusals: readonly Refusal[], readsOnly = false): Promise<void> {
    const { client, target } = this.#o;
    const call = this.#call();
    // 1. Harbor: a project that does not exist.
    if (await client.harbor.detect(call)) {
      const projects = [...new Set(this.#o.repositories.map(projectOf))];
      const missing: string[] = [];
      for (const p of projects) {
        const exists = await client.harbor.projectExists(p, call).catch((err: unknown) => {
          if (this.#o.signal?.aborted) throw err;
          this.#o.logger.debug(`cannot ask Harbor whether project ${p} exists: ${(err as Error).message}`);
          return true;
        });
        if (!exists) missing.push(p);
      }
      if (missing.length > 0) {
        if (!this.#o.createProjects || this.#o.dryRun) throw projectMissing(target, missing, this.#o.repositories, Boolean(this.#o.dryRun && this.#o.createProjects));
        for (const p of missing) {
          const how = await client.harbor.createProject(p, call);
          this.#created.push(p);
          this.#o.logger.info(how === 'created' ? `created Harbor project ${p} (private)` : `Harbor project ${p} exists now`);
        }
        return;
      }
    }
    // 2. A path deeper than the registry takes.
    const deep = await this.#pathLimit(refusals, readsOnly);
    if (deep) throw deep;
    throw this.#mark(refusals[0]!.error);
  }

  /**
   * Is depth the reason? Only when every refused path is deeper than every path the registry took,
   * the refused path cannot even be read (Quay and GitLab refuse reads there too, where a missing
   * permission would still let one read), and a shorter path of it can be: that length is the limit.
   */
  async #pathLimit(refusals: readonly Refusal[], readsOnly: boolean): Promise<AirlockError | undefined> {
    const refused = refusals.map((r) => r.repository);
    const maxOk = Math.max(0, ...[...this.#accepted, ...this.#readable].map(depthOf));
    if (refused.some((r) => depthOf(r) <= maxOk)) return undefined;
    const shallowest = [...refused].sort((a, b) => depthOf(a) - depthOf(b))[0]!;
    const call = this.#call();
    if (!readsOnly && (await this.#o.repoFor(shallowest).readable(call))) return undefined;
    let limit: number | undefined;
    const parts = shallowest.split('/');
    for (let k = parts.length - 1; k >= 1; k--) {
      if (k <= maxOk || (await this.#o.repoFor(parts.slice(0, k).join('/')).readable(call))) {
        limit = k;
        break;
      }
    }
    if (limit === undefined) return undefined;
    const tooDeep = this.#o.repositories.filter((r) => depthOf(r) > limit!);
    const example = tooDeep[0] ?? shallowest;
    const proposals = proposeMappings(this.#o.sources, this.#o.target, this.#o.layout, limit);
    const deepestSource = Math.max(...this.#o.sources.map((s) => depthOf(s.repository)));
    return this.#mark(new AirlockError('PATH_TOO_DEEP', `${this.#o.target.host} takes repository paths of at most ${limit} components; ${tooDeep.length} of this import's ${this.#o.repositories.length} target repositories are deeper (${example}: ${depthOf(example)}); nothing was pushed`, {
      where: `${this.#o.target.host}/${example}`,
      cause: refusals[0]!.error,
      hint: `${proposals.length > 0
        ? `import with ${proposals.join(', or with ')}`
        : `no --to prefix or --layout fits: the deepest source repository has ${deepestSource} components`}` +
        ' (GitLab takes the project path plus two levels; Quay without FEATURE_EXTENDED_REPOSITORY_NAMES takes namespace/repository); `airlock registry probe` reports the limit',
    }));
  }

  async #checkMediaTypes(pending: PendingWrites): Promise<void> {
    const byType = new Map<string, PlannedRoot[]>();
    for (const m of pending.manifests) {
      if (!(m.desc.mediaType in MEDIA_TYPE_NAMES)) continue;
      const roots = byType.get(m.desc.mediaType) ?? [];
      roots.push(...m.roots);
      byType.set(m.desc.mediaType, roots);
    }
    const first = pending.manifests[0]?.repository;
    if (byType.size === 0 || first === undefined) return;
    const check = await checkManifestMediaTypes(this.#o.repoFor(first), [...byType.keys()], this.#call());
    if (!check.cleanedUp) this.#o.logger.debug(`the registry kept the preflight's test manifests in ${first} (untagged; its garbage collection removes them)`);
    if (check.refused.length === 0) return;
    const isIndex = (t: string): number => (t === MEDIA_TYPE_OCI_INDEX || t === MEDIA_TYPE_DOCKER_MANIFEST_LIST ? 0 : 1);
    const types = check.refused.map((r) => r.mediaType).sort((a, b) => isIndex(a) - isIndex(b));
    // Per refused type, the artifacts that need it (an index first: its images come with it).
    const needs = types.map((t) => {
      const names = [...new Set(byType.get(t)!.map((r) => this.#o.describeRoot(r)))];
      return `${MEDIA_TYPE_NAMES[t]} (${t}): ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`;
    });
    const docker = types.every((t) => t.startsWith('application/vnd.docker.'));
    const oci = types.every((t) => t.startsWith('application/vnd.oci.'));
    throw new AirlockError('MEDIA_TYPE_UNSUPPORTED', `${this.#o.target.host} refuses manifest media types this bundle needs; nothing was pushed. ${needs.join('; ')}`, {
      where: `${this.#o.target.host}/${first}`,
      cause: check.refused[0]!.error,
      hint: `${docker
        ? 'the registry takes only OCI media types: let it take Docker ones too (zot: "compat": ["docker2s2"] under "http" in its config)'
        : oci
          ? 'the registry does not take OCI media types: enable them (Quay: FEATURE_GENERAL_OCI_SUPPORT: true), or use a registry version that does'
          : 'enable these media types in the registry'}, or leave these artifacts out of the mirror list; \`airlock registry probe\` lists what it takes`,
    });
  }
}

interface Refusal {
  readonly repository: string;
  readonly error: RegistryError;
}

/** Up to `n` repositories of each path depth (a refusal by depth or project shows in a few). */
function sampleByDepth(repositories: readonly string[], n: number): string[] {
  const seen = new Map<number, number>();
  return repositories.filter((r) => {
    const k = seen.get(depthOf(r)) ?? 0;
    seen.set(depthOf(r), k + 1);
    return k < n;
  });
}

/**
 * The target repository a refusal is about: the fields the registry layer puts on its errors, when
 * the error came from this registry. Every RegistryError a refusal can be carries them (the
 * transport sets them on each request's errors; RegistryRepository and uploads name the repository),
 * so nothing is parsed back out of `where`; a registry-wide request (a token, the catalog) names no
 * repository, and neither does this.
 */
function refusedRepository(err: RegistryError, registry: string): string | undefined {
  return err.registry === registry ? err.repository : undefined;
}

function projectMissing(target: TargetRegistry, missing: readonly string[], repositories: readonly string[], dryRunCreate: boolean): AirlockError {
  const example = repositories.find((r) => missing.includes(projectOf(r)));
  const list = missing.map((p) => `"${p}"`).join(', ');
  return new AirlockError('PROJECT_MISSING', `${target.host} is Harbor and has no project ${list}, which ${missing.length > 1 ? 'these repositories need' : `${example ?? 'the repositories'} need${example ? 's' : ''}`}; nothing was pushed`, {
    where: `${target.host}/${example ?? missing[0]}`,
    hint: dryRunCreate
      ? `a run without --dry-run creates ${missing.length > 1 ? 'them' : 'it'} (--create-projects)`
      : `create ${missing.length > 1 ? 'them' : 'it'} in Harbor (Projects → New Project, or POST /api/v2.0/projects), or re-run with --create-projects and destination credentials that may create projects`,
  });
}

/**
 * `--to` and `--layout` choices that bring every mapped path within `limit` components, best first:
 * the same layout with the longest prefix that fits, then the flat layout (the source registry left
 * out) with the longest prefix that fits. Choices that would land two sources on one repository
 * are left out (MAPPING_CONFLICT).
 */
export function proposeMappings(sources: readonly SourceRepository[], target: TargetRegistry, layout: RepositoryLayout, limit: number): string[] {
  const prefix = target.prefix ? target.prefix.split('/') : [];
  const fits = (l: RepositoryLayout, p: string): boolean => {
    const seen = new Map<string, string>();
    for (const s of sources) {
      const path = mapRepository(s, { host: target.host, prefix: p }, l);
      if (depthOf(path) > limit) return false;
      const key = `${s.registry}/${s.repository}`;
      const other = seen.get(path);
      if (other !== undefined && other !== key) return false;
      seen.set(path, key);
    }
    return true;
  };
  const longest = (l: RepositoryLayout): string | undefined => {
    for (let k = prefix.length; k >= 0; k--) {
      const p = prefix.slice(0, k).join('/');
      if (fits(l, p)) return p;
    }
    return undefined;
  };
  const to = (p: string): string => `--to ${target.host}${p ? `/${p}` : ''}`;
  const out: string[] = [];
  // Keeping the prefix first (on GitLab it is the project path), then a shorter prefix.
  if (layout === 'scoped' && fits('flat', target.prefix)) out.push('`--layout flat`');
  const same = longest(layout);
  if (same !== undefined && same !== target.prefix) out.push(`\`${to(same)}${layout === 'scoped' ? ' --layout scoped' : ''}\``);
  if (layout === 'scoped' && !fits('flat', target.prefix)) {
    const flat = longest('flat');
    if (flat !== undefined) out.push(`\`--layout flat ${to(flat)}\``);
  }
  return out;
}
