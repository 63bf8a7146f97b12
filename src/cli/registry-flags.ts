import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RegistryHostConfig, SourceCredentials } from '../ops/index.js';

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
  const credentials = side === 'dest' ? await credentialsFromFlags(args, side, opts) : undefined;
  const verify = args[`${side}-tls-verify`] !== false;
  if (!verify) {
    opts.logger.warn(`TLS verification is off for ${opts.registry ?? (side === 'src' ? 'the source registries' : 'the target registry')}, and plain HTTP is allowed (--${side}-tls-verify=false)`);
  }
  const certDir = str(`${side}-cert-dir`);
  const authfile = str(`${side}-authfile`) ?? str('authfile');
  return {
    tls: verify ? 'verify' : 'skip-verify',
    ...(certDir ? { certDir } : {}),
    ...(credentials ? { credentials } : {}),
    ...(authfile ? { authfile } : {}),
  };
}

/**
 * `--src-creds` (repeatable: `REGISTRY=USER:PASS` for that registry only, or one plain
 * `USER:PASS`) and `--src-username` + `--src-password-stdin` → credentials, each tied to a
 * registry or left for export to tie to the only source registry (ops/export.ts).
 */
export async function sourceCredentialsFromFlags(args: Readonly<Record<string, unknown>>, opts: RegistryFlagOptions): Promise<SourceCredentials> {
  const given = args['src-creds'];
  const list = (Array.isArray(given) ? given : given === undefined ? [] : [given]).map(String);
  const scoped = new Map<string, { username: string; password: string }>();
  const plain: string[] = [];
  for (const item of list) {
    // REGISTRY=USER:PASS when what comes before '=' is a registry host (a dot, a port or localhost).
    const m = /^([^=:/@\s]+(?::\d{1,5})?)=(.*)$/s.exec(item);
    const host = m && (m[1]!.includes('.') || m[1]!.includes(':') || /^localhost$/i.test(m[1]!)) ? m[1]!.toLowerCase() : undefined;
    if (!host) {
      plain.push(item);
      continue;
    }
    if (scoped.has(host)) throw new AirlockError('USAGE', `--src-creds names ${host} twice`, { hint: 'give each registry one USER:PASS' });
    scoped.set(host, splitUserPass(m![2]!, `--src-creds ${host}=`));
  }
  if (plain.length > 1) {
    throw new AirlockError('USAGE', `--src-creds is given ${plain.length} times without a registry`, { hint: 'write each as REGISTRY=USER:PASS so it goes to that registry only' });
  }
  const fromStdin = await credentialsFromFlags({ ...args, 'src-creds': plain[0] }, 'src', opts);
  const flag = plain.length === 1 ? '--src-creds' : '--src-username/--src-password-stdin';
  return { scoped, ...(fromStdin ? { unscoped: { ...fromStdin, flag } } : {}) };
}

function splitUserPass(text: string, flag: string): { username: string; password: string } {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new AirlockError('USAGE', `${flag} must be USER:PASSWORD`, { hint: 'e.g. --src-creds ghcr.io=bob:TOKEN' });
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `--<side>-creds USER:PASS`, or `--<side>-username` + `--<side>-password-stdin`. */
async function credentialsFromFlags(
  args: Readonly<Record<string, unknown>>,
  side: 'src' | 'dest',
  opts: RegistryFlagOptions,
): Promise<{ username: string; password: string } | undefined> {
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
  return credentials;
}
