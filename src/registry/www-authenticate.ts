/**
 * `WWW-Authenticate` challenges (RFC 7235 section 4.1) as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`
 * or `Basic realm="Registry Realm"`. Token flow: https://distribution.github.io/distribution/spec/auth/token/
 */
export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parse one header value into its challenges. Several challenges may share a header, separated by
 * commas, so a new challenge starts at a token that is followed by whitespace and not by `=`.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    while (i < n && header[i] === ',') {
      i++;
      skipWs();
    }
    if (i >= n) break;
    const scheme = readToken();
    if (!scheme) {
      i++; // garbage: skip a character and resynchronise
      continue;
    }
    const current = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    out.push(current);
    // auth-params: name=value or name="quoted", comma separated
    for (;;) {
      skipWs();
      const save = i;
      const name = readToken();
      skipWs();
      if (!name || header[i] !== '=') {
        i = save; // the start of the next challenge (or garbage the outer loop skips)
        break;
      }
      i++; // '='
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start, i);
      }
      current.params[name.toLowerCase()] = value;
      skipWs();
      if (header[i] === ',') {
        i++;
        continue;
      }
      break;
    }
  }
  return out;
}

/** The challenge we act on: Bearer over Basic when both are offered. */
export function pickChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
