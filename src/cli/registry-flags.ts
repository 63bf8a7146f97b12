import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RegistryHostConfig } from '../registry/index.js';

export interface RegistryFlagOptions {
  readonly logger: Logger;
  /** Reads the password for `--<side>-password-stdin`. Default: all of process.stdin. */
  readonly readStdin?: () => Promise<string>;
  /** Named in the TLS warning, e.g. the target host. */
  readonly registry?: string;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `--src-*` / `--dest-*` flags → RegistryHostConfig (README "Import", "Source registry
 * settings"). `--<side>-tls-verify=false` skips verification and allows plain HTTP, as skopeo does.
 */
export async function registryConfigFromFlags(
  args: Readonly<Record<string, unknown>>,
  side: 'src' | 'dest',
  opts: RegistryFlagOptions,
): Promise<RegistryHostConfig> {
  const str = (k: string): string | undefined => {
    const v = args[k];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  };
  const credsFlag = `${side}-creds`;
  const creds = str(credsFlag);
  const username = str(`${side}-username`);
  const passwordStdin = args[`${side}-password-stdin`] === true;
  let credentials: { username: string; password: string } | undefined;
  if (creds !== undefined) {
    if (passwordStdin) {
      throw new AirlockError('USAGE', `--${credsFlag} and --${side}-password-stdin exclude each other`, { hint: `use one of them` });
    }
    const colon = creds.indexOf(':');
    if (colon <= 0) {
      throw new AirlockError('USAGE', `--${credsFlag} must be USER:PASSWORD`, {
        hint: `or pass --${side}-username USER --${side}-password-stdin and the password on stdin`,
      });
    }
    credentials = { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
  } else if (passwordStdin) {
    if (!username) throw new AirlockError('USAGE', `--${side}-password-stdin needs --${side}-username`);
    const password = (await (opts.readStdin ?? readAllStdin)()).replace(/\r?\n$/, '');
    if (!password) throw new AirlockError('USAGE', `--${side}-password-stdin read an empty password`, { hint: 'pipe the password into the command' });
    credentials = { username, password };
  } else if (username) {
    throw new AirlockError('USAGE', `--${side}-username needs --${side}-password-stdin`, { hint: `or use --${credsFlag} USER:PASSWORD` });
  }
  const verify = args[`${side}-tls-verify`] !== false;
  if (!verify) {
    opts.logger.warn(`TLS verification is off for ${opts.registry ?? (side === 'src' ? 'the source registries' : 'the target registry')}, and plain HTTP is allowed (--${side}-tls-verify=false)`);
  }
  const certDir = str(`${side}-cert-dir`);
  const authfile = str('authfile');
  return {
    tls: verify ? 'verify' : 'skip-verify',
    ...(certDir ? { certDir } : {}),
    ...(credentials ? { credentials } : {}),
    ...(authfile ? { authfile } : {}),
  };
}
