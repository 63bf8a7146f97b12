/**
 * undici's Agent for the builds that carry every package inside them (the single executable and
 * the offline npm package: scripts/release.ts puts this file in undici-agent.ts's place there).
 * The same parts of undici as undici-agent.ts, by the same paths, but with a plain `require` that
 * esbuild follows and bundles: those builds have no node_modules to load them from. Also the
 * node CLI's CommonJS script (scripts/bundle-cli.mjs), so that undici is compiled from its code
 * cache with the rest.
 */
import type { Agent as UndiciAgent, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });
export type Agent = UndiciAgent;

/**
 * As in undici-agent.ts: the rest of the API and the proxy agent only when a proxy variable is
 * set. The requires sit inside the function, so esbuild still bundles them but they run (and are
 * compiled) only on that path: the bundled CLI (dist/cli/airlock.cjs) starts without them.
 */
export function loadEnvHttpProxyAgent(): typeof UndiciEnvHttpProxyAgent {
  if (!('connect' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);
  return require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;
}
