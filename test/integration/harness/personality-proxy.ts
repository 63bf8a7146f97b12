/**
 * Registry "personalities": an HTTP proxy in front of a real Docker Distribution registry on
 * 127.0.0.1 that forwards every request and changes only what a product documents. The stores,
 * digests, upload sessions and manifests stay Distribution's; the proxy adds the product's rules:
 *
 * - Token auth front (Harbor, Quay, GitLab): `/v2/` answers 401 with a Bearer challenge naming the
 *   proxy's own token endpoint (token spec https://distribution.github.io/distribution/spec/auth/token/),
 *   which grants per scope what the product grants. A request whose token lacks the access gets
 *   Distribution's 401 UNAUTHORIZED with `error="insufficient_scope"` in the challenge.
 * - Harbor (https://github.com/goharbor/harbor): repositories live in projects (first path
 *   component). A request into a project that does not exist gets what v2auth answers
 *   (src/server/middleware/v2auth/auth.go: 401 UNAUTHORIZED "project NAME not found", no challenge;
 *   goharbor/harbor#17097), or, as the `name-unknown` variant, 404 NAME_UNKNOWN. Harbor's API v2.0
 *   (api/v2.0/swagger.yaml, basePath /api/v2.0, Basic auth): GET /ping → "Pong" (no auth); HEAD
 *   /projects?project_name= → 200 or 404 for an authenticated caller (handler/project.go); POST
 *   /projects {project_name, metadata} → 201, 409 when taken, 401 without credentials, 403 for a
 *   user who may not create projects.
 * - Nexus (and others): cross-repository mounts are not honoured. The spec lets a registry that
 *   does not mount answer the mount POST with 202 and an ordinary upload session
 *   (distribution-spec "Mounting a blob from another repository"); the proxy drops `mount` and
 *   `from` before forwarding, so Distribution does exactly that.
 * - Quay without FEATURE_EXTENDED_REPOSITORY_NAMES takes `namespace/repository` only: its token
 *   service refuses a deeper name with 400 NAME_INVALID "Nested repositories are not supported.
 *   Found: NAME" (endpoints/v2/v2auth.py validate_repository_name). Without
 *   FEATURE_GENERAL_OCI_SUPPORT it refuses OCI manifests and indexes with 415 MANIFEST_INVALID
 *   "manifest schema version not supported" (endpoints/v2/manifest.py).
 * - GitLab: an image path is the project path plus at most two more levels (docs "Naming
 *   convention for your container images": "You can append additional names to the end of a
 *   container image name, up to two levels deep"). Its token service looks for the project among
 *   the path and its two parents (lib/container_registry/path.rb `components.first(3)`) and grants
 *   nothing when none is a project (ContainerRegistryAuthenticationService), so deeper paths end
 *   in 401 insufficient_scope for reads and writes alike.
 * - zot without `http.compat: ["docker2s2"]` refuses Docker manifests and manifest lists with 415
 *   MANIFEST_INVALID (pkg/api/routes.go UpdateManifest, IsSupportedMediaType).
 * - The referrers API of distribution-spec v1.1 ("Listing Referrers", "Pushing Manifests with
 *   Subject"): `GET /v2/<name>/referrers/<digest>` answers an image index (Content-Type
 *   application/vnd.oci.image.index.v1+json) of the manifests pushed with that `subject`, with
 *   `artifactType` (or the config's mediaType) and annotations, filtered by `?artifactType=` with
 *   `OCI-Filters-Applied: artifactType`; a manifest PUT with `subject` is answered with
 *   `OCI-Subject: <subject digest>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** What a token endpoint answers for a scope it refuses outright (Quay's NAME_INVALID). */
export interface TokenRefusal {
  readonly status: number;
  readonly body: unknown;
}

export interface TokenAuthFront {
  /** user → password accepted with Basic auth at the token endpoint (and Harbor's API). */
  readonly users: Readonly<Record<string, string>>;
  /** Path of the token endpoint on the proxy: Harbor `/service/token`, Quay `/v2/auth`, GitLab `/jwt/auth`. */
  readonly realmPath: string;
  readonly service: string;
  /** The actions granted on repository `name` (none: an empty list), or a refusal of the whole token request. */
  readonly grant: (user: string | undefined, name: string, actions: readonly string[]) => readonly string[] | TokenRefusal;
}

export interface HarborRules {
  /** Projects that exist at the start. */
  readonly projects: readonly string[];
  /** Users who may create projects through the API. */
  readonly creators: readonly string[];
  /** How a request into a missing project is refused. Default 'unauthorized' (Harbor 2.x v2auth). */
  readonly missingProject?: 'unauthorized' | 'name-unknown';
}

export interface PersonalityOptions {
  /** A label for logs and test names: 'harbor', 'nexus', … */
  readonly name: string;
  readonly auth?: TokenAuthFront;
  readonly harbor?: HarborRules;
  /** Nexus: answer every mount with a plain upload session (202). */
  readonly ignoreMount?: boolean;
  /** Manifest media types refused on PUT, and the answer. */
  readonly refuseManifests?: { readonly mediaTypes: readonly string[]; readonly answer: (mediaType: string) => TokenRefusal };
  /** Serve the OCI 1.1 referrers API and answer `OCI-Subject` on manifest PUTs with a subject. */
  readonly referrersApi?: boolean;
}

export interface ProxyLogEntry {
  readonly method: string;
  readonly path: string;
  status?: number;
  /** Who answered: the proxy itself (a personality rule) or the upstream registry. */
  by?: 'proxy' | 'upstream';
  /** The rule that answered or changed the request. */
  rule?: string;
}

export interface ReferrerDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export interface PersonalityProxy {
  /** `127.0.0.1:PORT`: the registry name clients use. */
  readonly host: string;
  readonly url: string;
  readonly name: string;
  readonly log: ProxyLogEntry[];
  /** Token requests: user (never a password), scopes, status. */
  readonly tokenRequests: { user: string | undefined; scopes: string[]; status: number }[];
  /** Harbor API requests, with whether they carried valid credentials (never the credentials). */
  readonly harborApi: { method: string; path: string; status: number; user?: string }[];
  /** Harbor projects now. */
  readonly projects: ReadonlySet<string>;
  /** Every raw request header value seen, for tests that prove a secret never left the client in the wrong place. */
  readonly seenAuthorization: { path: string; scheme: string }[];
  /** The referrers the emulated API lists for `subject` in `repository`. */
  referrers(repository: string, subject: string): ReferrerDescriptor[];
  /** Writes (POST, PUT, PATCH, DELETE) that reached the upstream registry. */
  upstreamWrites(): ProxyLogEntry[];
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Presets: the documented behaviours above, one product each.

const DISTRIBUTION_UNAUTHORIZED = (name: string, action: string): unknown => ({
  errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [{ Type: 'repository', Class: '', Name: name, Action: action }] }],
});

export function harborPersonality(o: { users: Record<string, string>; projects: readonly string[]; creators: readonly string[]; missingProject?: 'unauthorized' | 'name-unknown' }): PersonalityOptions {
  return {
    name: o.missingProject === 'name-unknown' ? 'harbor (404 NAME_UNKNOWN)' : 'harbor',
    harbor: { projects: o.projects, creators: o.creators, missingProject: o.missingProject ?? 'unauthorized' },
    auth: {
      users: o.users, realmPath: '/service/token', service: 'harbor-registry',
      // Harbor's token service grants what the user may do in the project; the project check itself
      // is v2auth's (the proxy applies it before the token check, as Harbor does).
      grant: (user, _name, actions) => (user ? actions : []),
    },
  };
}

export function nexusPersonality(): PersonalityOptions {
  return { name: 'nexus', ignoreMount: true };
}

export function quayPersonality(o: { users: Record<string, string>; ociSupport?: boolean }): PersonalityOptions {
  const ociRefusal = (): TokenRefusal => ({
    status: 415, body: { errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: { message: 'manifest schema version not supported' } }] },
  });
  return {
    name: o.ociSupport === false ? 'quay (no OCI)' : 'quay',
    auth: {
      users: o.users, realmPath: '/v2/auth', service: 'quay',
      grant: (user, name, actions) => {
        if (name.split('/').length > 2) {
          return { status: 400, body: { errors: [{ code: 'NAME_INVALID', message: `Nested repositories are not supported. Found: ${name}`, detail: {} }] } };
        }
        return user ? actions : [];
      },
    },
    ...(o.ociSupport === false ? { refuseManifests: { mediaTypes: [OCI_MANIFEST, OCI_INDEX], answer: ociRefusal } } : {}),
  };
}

export function gitlabPersonality(o: { users: Record<string, string>; projects: readonly string[] }): PersonalityOptions {
  return {
    name: 'gitlab',
    auth: {
      users: o.users, realmPath: '/jwt/auth', service: 'container_registry',
      grant: (user, name, actions) => {
        const nodes = name.split('/');
        if (!user || nodes.length < 2) return [];
        // The path and its two parents: one of them must be a project.
        const candidates = [0, 1, 2].map((drop) => nodes.slice(0, nodes.length - drop).join('/')).filter((c) => c.split('/').length >= 2);
        return candidates.some((c) => o.projects.includes(c)) ? actions : [];
      },
    },
  };
}

export function zotPersonality(): PersonalityOptions {
  return {
    name: 'zot',
    referrersApi: true,
    refuseManifests: {
      mediaTypes: [DOCKER_MANIFEST, DOCKER_LIST],
      answer: (mediaType) => ({ status: 415, body: { errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: { mediaType } }] } }),
    },
  };
}

export function referrersApiPersonality(): PersonalityOptions {
  return { name: 'oci-1.1 referrers API', referrersApi: true };
}

// ---------------------------------------------------------------------------------------------

interface Token {
  readonly user: string | undefined;
  readonly access: Map<string, Set<string>>;
}

function sendJson(res: ServerResponse, status: number, doc: unknown, headers: OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, 'docker-distribution-api-version': 'registry/2.0', ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function basicUser(header: string | undefined, users: Readonly<Record<string, string>>): { user?: string; valid: boolean; given: boolean } {
  if (!header?.startsWith('Basic ')) return { valid: false, given: false };
  const text = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const user = text.slice(0, colon);
  const pass = text.slice(colon + 1);
  return users[user] !== undefined && users[user] === pass ? { user, valid: true, given: true } : { valid: false, given: true };
}

/** `/v2/<name>/(blobs|manifests|tags|referrers)/...` → name and the rest. */
function parseV2(path: string): { name: string; kind: string; rest: string } | undefined {
  const m = /^\/v2\/(.+?)\/(blobs|manifests|tags|referrers)\/(.*)$/.exec(path);
  return m ? { name: m[1]!, kind: m[2]!, rest: m[3]! } : undefined;
}

export async function startPersonalityProxy(upstream: string, p: PersonalityOptions): Promise<PersonalityProxy> {
  const [upHost, upPortText] = upstream.split(':');
  const upPort = Number(upPortText);
  const log: ProxyLogEntry[] = [];
  const tokenRequests: PersonalityProxy['tokenRequests'] = [];
  const harborApi: PersonalityProxy['harborApi'] = [];
  const seenAuthorization: PersonalityProxy['seenAuthorization'] = [];
  const tokens = new Map<string, Token>();
  const projects = new Set(p.harbor?.projects ?? []);
  /** `repository subject` → referrers by digest. */
  const referrerIndex = new Map<string, Map<string, ReferrerDescriptor>>();
  const sockets = new Set<Socket>();
  let port = 0;
  let nextProjectId = 1;

  const challenge = (scope?: string, insufficient = false): string =>
    `Bearer realm="http://127.0.0.1:${port}${p.auth!.realmPath}",service="${p.auth!.service}"${scope ? `,scope="${scope}"` : ''}${insufficient ? ',error="insufficient_scope"' : ''}`;

  const forward = (req: IncomingMessage, res: ServerResponse, entry: ProxyLogEntry, path = req.url ?? '/', body?: Buffer, onHeaders?: (status: number, headers: Record<string, string | string[] | undefined>) => Record<string, string>): Promise<void> =>
    new Promise<void>((resolve) => {
      const { authorization: _a, ...headers } = req.headers;
      void _a;
      if (body) headers['content-length'] = String(body.length);
      const up = httpRequest({ host: upHost, port: upPort, method: req.method, path, headers }, (upRes) => {
        entry.status = upRes.statusCode;
        entry.by = 'upstream';
        const extra = onHeaders?.(upRes.statusCode ?? 0, upRes.headers) ?? {};
        res.writeHead(upRes.statusCode ?? 502, { ...upRes.headers, ...extra });
        upRes.pipe(res);
        upRes.on('end', () => resolve());
        upRes.on('error', () => resolve());
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
        resolve();
      });
      if (body) up.end(body);
      else req.pipe(up);
    });

  /** A GET to the upstream registry, whole (tag lists: small). */
  const upstreamGet = (path: string): Promise<number> =>
    new Promise<number>((resolve) => {
      const r = httpRequest({ host: upHost, port: upPort, method: 'GET', path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('error', () => resolve(0));
      r.end();
    });

  const handleToken = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const auth = p.auth!;
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const basic = basicUser(req.headers.authorization, auth.users);
    const reply = (status: number, doc: unknown): void => {
      tokenRequests.push({ user: basic.user, scopes, status });
      sendJson(res, status, doc);
    };
    if (basic.given && !basic.valid) return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
    const access = new Map<string, Set<string>>();
    for (const s of scopes) {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      if (first < 0 || last <= first) continue;
      const type = s.slice(0, first);
      const name = s.slice(first + 1, last);
      const actions = s.slice(last + 1).split(',').filter(Boolean);
      if (type === 'registry') {
        if (basic.user) access.set(`registry:${name}`, new Set(actions));
        continue;
      }
      const granted = auth.grant(basic.user, name, actions);
      if (!Array.isArray(granted)) {
        const refusal = granted as TokenRefusal;
        return reply(refusal.status, refusal.body);
      }
      const set = access.get(name) ?? new Set<string>();
      for (const a of granted as readonly string[]) set.add(a);
      access.set(name, set);
    }
    const token = randomBytes(16).toString('hex');
    tokens.set(token, { user: basic.user, access });
    reply(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
  };

  const handleHarborApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const basic = basicUser(req.headers.authorization, p.auth?.users ?? {});
    const path = url.pathname.slice('/api/v2.0'.length);
    const done = (status: number, doc?: unknown, headers: OutgoingHttpHeaders = {}): void => {
      harborApi.push({ method: req.method ?? '?', path: `${url.pathname}${url.search}`, status, ...(basic.user ? { user: basic.user } : {}) });
      if (doc === undefined) {
        res.writeHead(status, headers);
        res.end();
      } else sendJson(res, status, doc, headers);
    };
    if (path === '/ping' && req.method === 'GET') return done(200, 'Pong');
    if (path === '/projects' && (req.method === 'HEAD' || req.method === 'GET')) {
      // handler/project.go HeadProject: RequireAuthenticated, then GetByName.
      if (!basic.valid) return done(401, { errors: [{ code: 'UNAUTHORIZED', message: 'UnAuthorized' }] });
      const name = url.searchParams.get('project_name') ?? '';
      return done(projects.has(name) ? 200 : 404);
    }
    if (path === '/projects' && req.method === 'POST') {
      const body = await readBody(req);
      if (!basic.valid) return done(401, { errors: [{ code: 'UNAUTHORIZED', message: 'UnAuthorized' }] });
      if (!p.harbor!.creators.includes(basic.user!)) return done(403, { errors: [{ code: 'FORBIDDEN', message: 'forbidden' }] });
      let name: unknown;
      try {
        name = (JSON.parse(body.toString('utf8')) as { project_name?: unknown }).project_name;
      } catch {
        return done(400, { errors: [{ code: 'BAD_REQUEST', message: 'invalid JSON' }] });
      }
      // Harbor's project name rule (lowercase letters, digits and ._- separators).
      if (typeof name !== 'string' || !/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(name) || name.length > 255) {
        return done(400, { errors: [{ code: 'BAD_REQUEST', message: 'invalid project name' }] });
      }
      if (projects.has(name)) return done(409, { errors: [{ code: 'CONFLICT', message: `The project named ${name} already exists` }] });
      projects.add(name);
      return done(201, undefined, { location: `/api/v2.0/projects/${nextProjectId++}` });
    }
    return done(404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
  };

  const handleReferrers = async (res: ServerResponse, entry: ProxyLogEntry, name: string, digest: string, url: URL): Promise<void> => {
    entry.by = 'proxy';
    entry.rule = 'referrers API';
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      entry.status = 400;
      return sendJson(res, 400, { errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] });
    }
    // "Assuming a repository is found, this request MUST return a 200 OK response code."
    if ((await upstreamGet(`/v2/${name}/tags/list?n=1`)) === 404 && ![...referrerIndex.keys()].some((k) => k.startsWith(`${name} `))) {
      entry.status = 404;
      return sendJson(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name } }] });
    }
    const artifactType = url.searchParams.get('artifactType');
    let manifests = [...(referrerIndex.get(`${name} ${digest}`)?.values() ?? [])];
    if (artifactType) manifests = manifests.filter((m) => m.artifactType === artifactType);
    entry.status = 200;
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    res.writeHead(200, { 'content-type': OCI_INDEX, 'content-length': body.length, ...(artifactType ? { 'oci-filters-applied': 'artifactType' } : {}) });
    res.end(body);
  };

  const handleManifestPut = async (req: IncomingMessage, res: ServerResponse, entry: ProxyLogEntry, name: string): Promise<void> => {
    const body = await readBody(req);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let subject: { digest?: string } | undefined;
    let doc: { mediaType?: string; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string>; subject?: { digest?: string } } = {};
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
      subject = doc.subject;
    } catch {
      // Not JSON: the registry will say so.
    }
    await forward(req, res, entry, req.url, body, (status): Record<string, string> => {
      if (status !== 201 || !subject?.digest) return {};
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const isIndex = (doc.mediaType ?? contentType) === OCI_INDEX;
      const artifactType = doc.artifactType ?? (isIndex ? undefined : doc.config?.mediaType);
      const key = `${name} ${subject.digest}`;
      const list = referrerIndex.get(key) ?? new Map<string, ReferrerDescriptor>();
      list.set(digest, {
        mediaType: doc.mediaType ?? contentType, digest, size: body.length,
        ...(artifactType ? { artifactType } : {}), ...(doc.annotations ? { annotations: doc.annotations } : {}),
      });
      referrerIndex.set(key, list);
      entry.rule = 'OCI-Subject';
      return { 'oci-subject': subject.digest };
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: ProxyLogEntry): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const authz = req.headers.authorization;
    if (authz) seenAuthorization.push({ path: url.pathname, scheme: authz.split(' ')[0] ?? '' });

    if (p.harbor && url.pathname.startsWith('/api/v2.0/')) {
      entry.by = 'proxy';
      entry.rule = 'harbor API';
      await handleHarborApi(req, res, url);
      entry.status = harborApi.at(-1)?.status;
      return;
    }
    if (p.auth && url.pathname === p.auth.realmPath) {
      entry.by = 'proxy';
      entry.rule = 'token';
      await handleToken(req, res, url);
      entry.status = tokenRequests.at(-1)?.status;
      return;
    }

    const token = authz?.startsWith('Bearer ') ? tokens.get(authz.slice(7)) : undefined;
    const refuse = (status: number, doc: unknown, rule: string, headers: OutgoingHttpHeaders = {}): void => {
      req.resume();
      entry.status = status;
      entry.by = 'proxy';
      entry.rule = rule;
      sendJson(res, status, doc, headers);
    };

    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (p.auth && !token) return refuse(401, DISTRIBUTION_UNAUTHORIZED('', ''), 'challenge', { 'www-authenticate': challenge() });
      return forward(req, res, entry);
    }
    if (url.pathname === '/v2/_catalog') {
      if (p.auth && !token?.access.get('registry:catalog')?.has('*')) {
        return refuse(401, DISTRIBUTION_UNAUTHORIZED('catalog', '*'), 'challenge', { 'www-authenticate': challenge('registry:catalog:*', Boolean(token)) });
      }
      return forward(req, res, entry);
    }
    const v2 = parseV2(url.pathname);
    if (!v2) return forward(req, res, entry);
    const method = req.method ?? 'GET';
    const upload = v2.kind === 'blobs' && v2.rest.startsWith('uploads');

    // Harbor's v2auth checks the project before the token's access (auth.go reqChecker.check).
    if (p.harbor && authz) {
      const project = v2.name.split('/')[0]!;
      if (!projects.has(project)) {
        if (p.harbor.missingProject === 'name-unknown') {
          return refuse(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: v2.name } }] }, 'harbor: no project');
        }
        return refuse(401, { errors: [{ code: 'UNAUTHORIZED', message: `project ${project} not found: project ${project} not found` }] }, 'harbor: no project', { 'www-authenticate': '' });
      }
    }

    if (p.auth) {
      const needed = method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' && !upload ? 'delete' : 'push';
      const have = token?.access.get(v2.name);
      const ok = have !== undefined && (have.has(needed) || have.has('*') || (needed === 'delete' && have.has('push')));
      const from = upload && method === 'POST' ? url.searchParams.get('from') : null;
      const fromOk = !from || token?.access.get(from)?.has('pull') || token?.access.get(from)?.has('*');
      if (!ok || !fromOk) {
        const scope = `repository:${v2.name}:${needed === 'pull' ? 'pull' : needed === 'delete' ? 'delete' : 'pull,push'}`;
        return refuse(401, DISTRIBUTION_UNAUTHORIZED(v2.name, needed), 'insufficient scope', { 'www-authenticate': challenge(scope, Boolean(token)) });
      }
    }

    if (p.ignoreMount && upload && method === 'POST' && url.searchParams.has('mount')) {
      url.searchParams.delete('mount');
      url.searchParams.delete('from');
      entry.rule = 'mount ignored';
      return forward(req, res, entry, `${url.pathname}${url.search}`);
    }
    if (v2.kind === 'manifests' && method === 'PUT') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (p.refuseManifests?.mediaTypes.includes(contentType)) {
        const a = p.refuseManifests.answer(contentType);
        await readBody(req);
        return refuse(a.status, a.body, `refuses ${contentType}`);
      }
      if (p.referrersApi) return handleManifestPut(req, res, entry, v2.name);
    }
    if (p.referrersApi && v2.kind === 'referrers' && method === 'GET') return handleReferrers(res, entry, v2.name, decodeURIComponent(v2.rest.split('?')[0]!), url);
    if (p.referrersApi && v2.kind === 'manifests' && method === 'DELETE') {
      return forward(req, res, entry, req.url, undefined, (status) => {
        if (status >= 200 && status < 300) for (const list of referrerIndex.values()) list.delete(v2.rest);
        return {};
      });
    }
    return forward(req, res, entry);
  };

  const server = createServer((req, res) => {
    const entry: ProxyLogEntry = { method: req.method ?? '?', path: req.url ?? '' };
    log.push(entry);
    handle(req, res, entry).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    name: p.name,
    log,
    tokenRequests,
    harborApi,
    projects,
    seenAuthorization,
    referrers: (repository, subject) => [...(referrerIndex.get(`${repository} ${subject}`)?.values() ?? [])],
    upstreamWrites: () => log.filter((l) => l.by === 'upstream' && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(l.method)),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
