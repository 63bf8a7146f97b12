/**
 * undici's Agent for the builds that carry every package inside them (the single executable and
 * the offline npm package: scripts/release.ts puts this file in undici-agent.ts's place there).
 * The same parts of undici as undici-agent.ts, by the same paths, but required statically so
 * that esbuild bundles them: those builds have no node_modules to load them from.
 */
import type { Agent as UndiciAgent, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });
const api = require('undici/lib/api/index.js') as object;
export type Agent = UndiciAgent;

const EnvHttpProxyAgentClass = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;

/** As in undici-agent.ts (there loaded on demand; here bundled): with the rest of the API. */
export function loadEnvHttpProxyAgent(): typeof UndiciEnvHttpProxyAgent {
  if (!('connect' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);
  return EnvHttpProxyAgentClass;
}
