/**
 * undici's Agent, loaded alone. `import { Agent } from 'undici'` runs undici's whole index
 * (fetch, WebSocket, caches, mocks: 134 files, ~0.1 s on these machines); the Agent and the
 * request API are ~0.05 s, and every CLI run that talks to a registry pays this at startup
 * (docs/BENCHMARKS.md, no-op re-import). undici 7 has no `exports` map, so the path is public;
 * the version is pinned in package-lock.json, and test/unit/registry checks it is the same class.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

// What undici's index does to give every dispatcher request(), stream(), pipeline()… (index.js:
// `Object.assign(Dispatcher.prototype, api)`), for request() alone: the one airlock calls
// (transport, upload, harbor, fetch-url); stream, pipeline, upgrade and connect are ~2.5 ms of
// start-up (docs/BENCHMARKS.md, no-op re-import). The proxy agent needs connect() for its CONNECT
// tunnels: loadEnvHttpProxyAgent adds the rest. Idempotent should the whole index load as well.
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });
export type Agent = UndiciAgent;

/**
 * undici's EnvHttpProxyAgent (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), loaded only when a proxy
 * variable is set: most runs need none, and the proxy agent pulls in more of undici (and the
 * dispatcher API's connect(), which it tunnels with).
 */
export function loadEnvHttpProxyAgent(): typeof UndiciEnvHttpProxyAgent {
  if (!('connect' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);
  return require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;
}
