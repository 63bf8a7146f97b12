/**
 * undici's Agent for the builds that carry every package inside them (the single executable and
 * the offline npm package: scripts/release.ts puts this file in undici-agent.ts's place there).
 * The same parts of undici as undici-agent.ts, by the same paths, but required statically so
 * that esbuild bundles them: those builds have no node_modules to load them from.
 */
import type { Agent as UndiciAgent, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = require('undici/lib/api/index.js') as object;
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);
export type Agent = UndiciAgent;

const EnvHttpProxyAgentClass = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;

/** As in undici-agent.ts (there loaded on demand; here bundled). */
export function loadEnvHttpProxyAgent(): typeof UndiciEnvHttpProxyAgent {
  return EnvHttpProxyAgentClass;
}
