/** Remove credentials from a URL before it is logged or put into an error. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    if (u.username || u.password) {
      u.username = u.username ? 'REDACTED' : '';
      u.password = '';
    }
    for (const key of [...u.searchParams.keys()]) {
      if (/token|signature|sig|credential|secret|password|key|auth/i.test(key)) u.searchParams.set(key, 'REDACTED');
    }
    return u.toString();
  } catch {
    return String(url).replace(/\/\/[^/@\s]*@/, '//REDACTED@');
  }
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-registry-auth']);

/** Copy of `headers` with secret values replaced. */
export function redactHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? 'REDACTED' : v;
  return out;
}
