/**
 * Basic auth for `bundle serve --htpasswd FILE`, with the file format Docker Distribution's
 * htpasswd auth reads (https://distribution.github.io/distribution/about/configuration/#htpasswd):
 * `USER:HASH` lines, bcrypt hashes only (`htpasswd -B`: `$2y$`, also `$2a$`/`$2b$`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { AirlockError, ioError } from '../errors.js';

export interface BasicAuthChecker {
  /** True when the Authorization header names a user of the file with the right password. */
  check(authorization: string | undefined): Promise<boolean>;
  readonly users: number;
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** Checked for unknown users too, so a reply takes as long whether or not the user exists. */
const DUMMY_HASH = '$2a$10$B3i37taZ8goHEoxXCulH8ePRTY3pC0zkyVDSrNciiNjmo1lrl7mwi';
/** bcrypt is slow on purpose; a client sends the same header with every request: remember good ones. */
const MAX_REMEMBERED = 64;

export async function readHtpasswd(path: string): Promise<BasicAuthChecker> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw ioError(err, 'read the htpasswd file', path);
  }
  const users = new Map<string, string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const where = `${path}:${i + 1}`;
    if (colon <= 0) throw new AirlockError('USAGE', `line ${i + 1} of the htpasswd file is not USER:HASH`, { where, hint: 'make entries with `htpasswd -B FILE USER`' });
    if (!BCRYPT.test(hash)) {
      throw new AirlockError('USAGE', `the password of "${user}" is not a bcrypt hash`, {
        where, hint: 'only bcrypt entries are accepted, as Docker Distribution accepts them: `htpasswd -B FILE USER`',
      });
    }
    users.set(user, hash);
  }
  if (users.size === 0) throw new AirlockError('USAGE', 'the htpasswd file has no users', { where: path, hint: 'add one with `htpasswd -B FILE USER`' });
  const remembered = new Set<string>();
  return {
    users: users.size,
    async check(authorization) {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
      if (!m) return false;
      const key = createHash('sha256').update(m[1]!).digest('hex');
      if (remembered.has(key)) return true;
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return false;
      const hash = users.get(decoded.slice(0, colon));
      const ok = await bcrypt.compare(decoded.slice(colon + 1), hash ?? DUMMY_HASH);
      if (!ok || hash === undefined) return false;
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.add(key);
      return true;
    },
  };
}

