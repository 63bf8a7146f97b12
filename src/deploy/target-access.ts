import type { TargetAccess } from './mirror-config.js';
import { loadCertDir, type RegistryClient, type RegistryHostConfig } from '../registry/index.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * How import reached the target, for the mirror configs: what the registry client actually used,
 * not what the flags allowed. With `--dest-tls-verify=false` the client tries TLS and falls back to
 * plain HTTP, so only it knows which one the target speaks (issue 17: a plain-HTTP target written
 * as `https://` made containerd fail with "server gave HTTP response to HTTPS client").
 */
export async function targetAccess(client: RegistryClient, dest: RegistryHostConfig): Promise<TargetAccess> {
  const scheme = client.scheme ?? (dest.tls === 'plain-http' ? 'http' : 'https');
  const certs = dest.certDir ? await loadCertDir(dest.certDir) : undefined;
  // Only certificate blocks are carried: a stray key in a `*.crt` never reaches the out-dir.
  const ca = (certs?.ca ?? []).flatMap((b) => b.toString('utf8').match(PEM_CERTIFICATE) ?? []);
  const auth = client.authScheme;
  return {
    scheme,
    skipVerify: scheme === 'https' && dest.tls !== 'verify',
    ...(ca.length > 0 ? { caPem: `${ca.join('\n')}\n` } : {}),
    auth: auth === undefined ? 'unknown' : auth,
    clientCertificate: Boolean(certs?.cert),
  };
}
