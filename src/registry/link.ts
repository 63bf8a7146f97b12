/**
 * The `Link` header of paginated listings (distribution spec "Listing Tags",
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags, RFC 8288):
 * `</v2/app/tags/list?n=100&last=b>; rel="next"`. Returns the next URL resolved against `base`,
 * or undefined when there is no next page.
 */
export function parseLinkNext(header: string | undefined, base: string): string | undefined {
  if (!header) return undefined;
  // Split on commas outside <...> and quotes.
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(header.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(header.slice(start));
  for (const part of parts) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(params);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('next')) continue;
    try {
      return new URL(m[1]!, base).toString();
    } catch {
      return undefined;
    }
  }
  return undefined;
}
