import { AirlockError } from '../errors.js';
import { isDigest, type Digest } from '../oci/index.js';

/**
 * A fully-qualified image reference. Grammar as in distribution/reference
 * (https://github.com/distribution/reference/blob/main/reference.go), normalised as the Docker CLI
 * does: no registry → docker.io; a single path component on docker.io → library/NAME.
 */
export interface Reference {
  /** Registry host with optional port, normalised (`index.docker.io` → `docker.io`). */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
/** The host Docker Hub's API really answers on. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const MAX_NAME = 255;

export interface ParseReferenceOptions {
  /** Named in error messages: file:line:col, flag name. */
  readonly where?: string;
  /** Accept a reference with neither tag nor digest (a repository). Default true. */
  readonly allowBare?: boolean;
}

export function parseReference(input: string, opts: ParseReferenceOptions = {}): Reference {
  const text = input.trim();
  const fail = (why: string, hint?: string): never => {
    throw new AirlockError('REFERENCE_INVALID', `invalid image reference "${clip(text)}": ${why}`, {
      ...(opts.where ? { where: opts.where } : {}),
      hint: hint ?? 'write it as [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. docker.io/library/nginx:1.27',
    });
  };
  if (text.length === 0) fail('it is empty');
  if (/\s/.test(text)) fail('it contains whitespace');
  if (/^[a-z]+:\/\//i.test(text)) fail('it has a URL scheme', 'drop the scheme (docker://, https://); charts use oci:// only in the charts: section');

  const parts = splitReference(text);
  if (parts.digest !== undefined && !isDigest(parts.digest)) {
    fail(`"${clip(parts.digest)}" is not a valid digest`, 'a digest is sha256: followed by 64 lowercase hex characters');
  }
  const digest = parts.digest as Digest | undefined;
  const tag = parts.tag;
  if (tag !== undefined && !TAG.test(tag)) fail(`"${clip(tag)}" is not a valid tag`, 'a tag has up to 128 letters, digits, _ . and -, and does not start with . or -');

  let registry = parts.registry ?? DOCKER_HUB;
  let path = parts.path;
  if (registry !== DOCKER_HUB) validateHost(registry, fail);
  registry = normaliseRegistry(registry);
  if (path.length === 0) fail('the repository name is empty');
  const components = path.split('/');
  for (const c of components) {
    if (!PATH_COMPONENT.test(c)) {
      fail(
        c !== c.toLowerCase() ? 'repository names must be lowercase' : `"${clip(c)}" is not a valid repository path component`,
      );
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (`${registry}/${path}`.length > MAX_NAME) fail(`the name is longer than ${MAX_NAME} characters`);
  if (opts.allowBare === false && tag === undefined && digest === undefined) {
    fail('it has neither a tag nor a digest');
  }
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * A chart's OCI reference: the text after `oci://` (`ghcr.io/org/charts/NAME`). helm reads its
 * first component as the registry, always (ORAS's grammar); the Docker grammar parseReference
 * follows reads a first component with no `.` or `:` (and not `localhost`) as a Docker Hub
 * namespace. Where the two disagree, the same text names two registries (`oci://harbor/charts/x`:
 * helm asks the host `harbor`, the Docker reading docker.io/harbor/charts/x), and mirroring the
 * one helm did not mean could carry someone else's chart: such a reference is refused, not guessed.
 */
export function parseChartReference(afterScheme: string, opts: ParseReferenceOptions = {}): Reference {
  const text = afterScheme.trim();
  const parts = splitReference(text);
  if (text.length > 0 && parts.registry === undefined) {
    const slash = parts.path.indexOf('/');
    const why = slash > 0
      ? `helm reads "${clip(parts.path.slice(0, slash))}" as the registry's host, an image reference as a Docker Hub namespace`
      : 'it names no registry';
    throw new AirlockError('REFERENCE_INVALID', `invalid chart reference "oci://${clip(text)}": ${why}`, {
      ...(opts.where ? { where: opts.where } : {}),
      hint: 'write the registry host with its domain or port (oci://harbor.example.com/charts/NAME, oci://harbor:443/charts/NAME); Docker Hub: oci://registry-1.docker.io/NAMESPACE/NAME',
    });
  }
  return parseReference(text, opts);
}

/**
 * A reference string's pieces, split by the grammar parseReference reads, with nothing checked or
 * defaulted: for strings airlock wrote itself (airlock.json sources, receipts, chart image records),
 * which are already normalised and must not throw when read back.
 */
export interface ReferenceParts {
  /** Everything before the tag and digest, as written: `[registry/]repository`. */
  readonly name: string;
  /** The registry component as written (`127.0.0.1:5000`); absent when the first component is not a host (Docker Hub). */
  readonly registry?: string;
  /** The repository path as written, after the registry (no `library/` added). */
  readonly path: string;
  readonly tag?: string;
  /** Whatever follows the `@`, unchecked. */
  readonly digest?: string;
}

/**
 * Split `[registry[:port]/]repository[:tag][@digest]`. The first path component is the registry
 * when it looks like a host (has a `.` or `:`, is `localhost`, or has capitals), as the Docker CLI
 * reads it. Never throws; parseReference checks the pieces.
 */
export function splitReference(text: string): ReferenceParts {
  let name = text;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  let rest = name;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
  }
  let registry: string | undefined;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  return { name: rest, path, ...(registry !== undefined ? { registry } : {}), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The registry a reference or `registry/repository` names, normalised: Docker Hub when it names none. Never throws. */
export function registryOf(text: string): string {
  return normaliseRegistry(splitReference(text).registry ?? DOCKER_HUB);
}

function validateHost(host: string, fail: (why: string, hint?: string) => never): void {
  let name = host;
  const bracket = /^\[([0-9a-fA-F:]+)\](?::(\d+))?$/.exec(host);
  if (bracket) return;
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    const port = host.slice(colon + 1);
    name = host.slice(0, colon);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || Number(port) === 0) fail(`"${clip(port)}" is not a valid port`);
  }
  if (!name.split('.').every((c) => DOMAIN_COMPONENT.test(c))) fail(`"${clip(name)}" is not a valid registry host`);
}

/** One place for Docker Hub's aliases. */
export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** The host to open connections to for `registry`. */
export function registryApiHost(registry: string): string {
  return normaliseRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** `registry/repository`, no tag or digest. */
export function formatRepository(ref: Pick<Reference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}

export function withDigest(ref: Reference, digest: Digest): Reference {
  return { ...ref, digest };
}

export function withTag(ref: Reference, tag: string): Reference {
  const { digest: _d, ...rest } = ref;
  return { ...rest, tag };
}

/** Is `tag` a valid tag? */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Is `path` a valid repository path (without the registry)? */
export function isValidRepositoryPath(path: string): boolean {
  return path.length > 0 && path.length <= MAX_NAME && path.split('/').every((c) => PATH_COMPONENT.test(c));
}

function clip(s: string): string {
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}
