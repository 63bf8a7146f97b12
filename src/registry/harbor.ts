import type { CallOptions } from '../content/index.js';
import { AirlockError } from '../errors.js';
import { RegistryError } from './errors.js';
import { readBodyCapped, type Transport, type TransportResponse } from './transport.js';
import type { HarborProjects } from './types.js';

/**
 * Harbor's project API, v2.0 (https://github.com/goharbor/harbor/blob/main/api/v2.0/swagger.yaml,
 * basePath /api/v2.0): `GET /ping` answers "Pong"; `HEAD /projects?project_name=NAME` answers 200
 * when the project exists and 404 when it does not; `POST /projects` with a ProjectReq
 * (`project_name`, `metadata.public`) answers 201 Created, or 409 when the name is taken. The API
 * takes Basic auth (the swagger's `securityDefinitions: basic`), not the registry's bearer tokens;
 * `GET /ping` needs none, `HEAD /projects` needs an authenticated caller (handler/project.go).
 *
 * Why it matters: Harbor keeps every repository inside a project (its first path component) and
 * refuses pushes into a project that does not exist. Its v2auth middleware answers such a request
 * with 401 UNAUTHORIZED "project NAME not found" (src/server/middleware/v2auth/auth.go;
 * goharbor/harbor#17097, #20544: "you need to create a namespace (project) before pushing").
 */
export class HarborApi implements HarborProjects {
  readonly #t: Transport;
  #detected: Promise<boolean> | undefined;

  constructor(transport: Transport) {
    this.#t = transport;
  }

  detect(opts: CallOptions = {}): Promise<boolean> {
    this.#detected ??= (async () => {
      try {
        const res = await this.#t.request({
          // Unauthenticated (Harbor's ping needs none): credentials go to /api/ only once it is Harbor.
          method: 'GET', url: '/api/v2.0/ping', scopes: [], ok: [200, 401, 403, 404, 405], auth: 'none',
          where: this.#t.registry, what: 'the Harbor API', signal: opts.signal,
        });
        const body = await readBodyCapped(res.body, 1024).catch(() => Buffer.alloc(0));
        return res.status === 200 && body.toString('utf8').includes('Pong');
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        return false;
      }
    })();
    return this.#detected;
  }

  async projectExists(name: string, opts: CallOptions = {}): Promise<boolean> {
    const res = await this.#t.request({
      method: 'HEAD', url: `/api/v2.0/projects?project_name=${encodeURIComponent(name)}`, scopes: [], ok: [200, 404], auth: 'basic',
      where: this.#t.registry, what: `Harbor project ${name}`, signal: opts.signal,
    });
    await res.body.dump().catch(() => {});
    return res.status === 200;
  }

  async createProject(name: string, opts: CallOptions = {}): Promise<'created' | 'exists'> {
    // Private, as Harbor's own default; the metadata values are strings in Harbor's schema.
    const body = Buffer.from(JSON.stringify({ project_name: name, metadata: { public: 'false' } }));
    let res: TransportResponse;
    try {
      res = await this.#t.request({
        method: 'POST', url: '/api/v2.0/projects', headers: { 'content-type': 'application/json' }, body, scopes: [],
        ok: [201, 409], auth: 'basic', retry: false, push: true, where: this.#t.registry, what: `Harbor project ${name}`, signal: opts.signal,
      });
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'AUTH') {
        const creds = await this.#t.credentials().catch(() => undefined);
        throw new AirlockError('AUTH', `Harbor at ${this.#t.registry} did not let ${creds ? `the account from ${creds.source}` : 'an anonymous caller'} create project ${name}`, {
          where: `${this.#t.registry}/${name}`, cause: err,
          hint: creds
            ? `create project "${name}" in Harbor (Projects → New Project), or pass credentials of an account that may create projects`
            : 'pass the destination credentials (--dest-creds, --dest-password-stdin or --authfile) of an account that may create projects',
        });
      }
      throw err;
    }
    await res.body.dump().catch(() => {});
    return res.status === 201 ? 'created' : 'exists';
  }
}
