import { exec, type JsonValue } from 'jsonpath-rfc9535';
import parseJsonPath from 'jsonpath-rfc9535/parser';

/**
 * `select:` of a `fromFile:` entry is a JSONPath query, RFC 9535
 * (https://www.rfc-editor.org/rfc/rfc9535), evaluated by jsonpath-rfc9535: the IETF standard
 * rather than one of the older dialects, with no code evaluation in filters (the release manifest
 * is a vendor's file), and no runtime dependencies. Only this module imports it (docs/ARCHITECTURE.md "Where each dependency lives").
 */

/** Why `selector` is not a JSONPath query, or undefined when it is one. */
export function checkSelector(selector: string): string | undefined {
  try {
    parseJsonPath(selector);
    return undefined;
  } catch (err) {
    const e = err as { message?: string; location?: { start?: { column?: number } } };
    const column = e.location?.start?.column;
    return `${e.message ?? 'syntax error'}${column !== undefined ? ` (at character ${column})` : ''}`;
  }
}

export interface Selected {
  readonly value: unknown;
  /** The normalized path of the value (RFC 9535 §2.7), e.g. `$['images'][3]['image']`. */
  readonly path: string;
}

/** Every value `selector` (already checked) yields in `doc`, in document order, with its path. */
export function selectValues(doc: unknown, selector: string): Selected[] {
  const out: Selected[] = [];
  exec(doc as JsonValue, selector, (value, path) => {
    out.push({ value, path: normalizedPath(path as readonly (string | number)[]) });
  });
  return out;
}

function normalizedPath(segments: readonly (string | number)[]): string {
  return `$${segments.map((s) => (typeof s === 'number' ? `[${s}]` : `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`)).join('')}`;
}
