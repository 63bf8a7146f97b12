/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and their lower-case forms), as curl, skopeo and podman
 * honour them, for the connected side: source registries and `url:` files. undici's
 * EnvHttpProxyAgent reads them: CONNECT tunnels through the proxy (for http:// targets too),
 * NO_PROXY by host name or domain suffix, optionally with a port, `*` for none. The target
 * registry of an import is always reached directly (a proxy variable inherited on the isolated
 * side must not send the site's content elsewhere).
 */
import type { Dispatcher } from 'undici';
import { Agent, loadEnvHttpProxyAgent } from './undici-agent.js';

type AgentOptions = ConstructorParameters<typeof Agent>[0] & { connect?: Record<string, unknown> };

export function proxyConfigured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy);
}

/**
 * An Agent, or with a proxy variable set and `useProxy`, an EnvHttpProxyAgent whose tunnelled TLS
 * connections get the same CAs, client certificate and verification as direct ones.
 */
export function createDispatcher(opts: AgentOptions, useProxy: boolean): Dispatcher {
  if (!useProxy || !proxyConfigured()) return new Agent(opts);
  const EnvHttpProxyAgent = loadEnvHttpProxyAgent();
  const tls = (opts?.connect ?? {}) as Record<string, unknown>;
  return new EnvHttpProxyAgent({ ...opts, requestTls: tls } as ConstructorParameters<typeof EnvHttpProxyAgent>[0]);
}
