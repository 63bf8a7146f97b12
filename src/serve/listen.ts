import { homedir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../errors.js';

export const DEFAULT_LISTEN = '127.0.0.1:5000';

export function defaultServeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'airlock', 'serve');
}

/** `--listen HOST:PORT`; a bare port listens on 127.0.0.1. */
export function parseListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(t) ?? (/^\d{1,5}$/.test(t) ? [t, undefined, '127.0.0.1', t] : null);
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || host === '' || !(port >= 0 && port <= 65535)) {
    throw new AirlockError('USAGE', `invalid --listen address "${text}"`, { where: '--listen', hint: 'write it as HOST:PORT, e.g. 127.0.0.1:5000 or [::1]:5000' });
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
