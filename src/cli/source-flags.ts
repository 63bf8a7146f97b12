import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RegistryHostConfig } from '../registry/index.js';

/** `USER:PASS` → credentials; the password may contain colons. */
export function parseCredsFlag(value: string, flag: string): { username: string; password: string } {
  const i = value.indexOf(':');
  if (i <= 0) throw new AirlockError('USAGE', `${flag} must be USER:PASS`, { hint: `or use --authfile; never put secrets in scripts' argv if you can avoid it` });
  return { username: value.slice(0, i), password: value.slice(i + 1) };
}

/** `--src-creds`, `--src-cert-dir`, `--src-tls-verify`, `--authfile` → defaults for every source registry. */
export function sourceConfigFromArgs(args: Record<string, unknown>, logger: Logger): RegistryHostConfig {
  const verify = args['src-tls-verify'] !== false;
  if (!verify) logger.warn('--src-tls-verify=false: source TLS certificates are not checked and plain HTTP is allowed');
  const creds = args['src-creds'] as string | undefined;
  return {
    tls: verify ? 'verify' : 'skip-verify',
    ...(args['src-cert-dir'] ? { certDir: args['src-cert-dir'] as string } : {}),
    ...(creds ? { credentials: parseCredsFlag(creds, '--src-creds') } : {}),
    ...(args.authfile ? { authfile: args.authfile as string } : {}),
  };
}
