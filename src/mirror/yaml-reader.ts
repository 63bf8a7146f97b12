import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Scalar } from 'yaml';
import { AirlockError, type ErrorCode } from '../errors.js';

/** A key of a YAML mapping with its value node (null: the key has no value node at all). */
export interface Field {
  readonly name: string;
  /** `file:line:col` of the key. */
  readonly where: string;
  readonly value: unknown;
}

/**
 * The keys of one mapping. `misspelt` holds the allowed names that an unknown key was probably
 * meant to be (`tgas` → `tags`): a "missing `tags`" complaint on top of "unknown key `tgas`; did
 * you mean `tags`?" would report one mistake twice.
 */
export class Fields extends Map<string, Field> {
  readonly misspelt = new Set<string>();
  /** Neither present nor misspelt. */
  lacks(name: string): boolean {
    return !this.has(name) && !this.misspelt.has(name);
  }
}

/**
 * Walks a parsed YAML document and collects problems instead of throwing, so that one run reports
 * every mistake in the file (sigstore-js `ValidationError` style). Positions come from the yaml
 * library's node ranges through a LineCounter; lines and columns are 1-based.
 */
export class YamlReader {
  readonly problems: AirlockError[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** The code of every problem: the mirror list's, or another YAML file's (the import policy). */
    private readonly code: ErrorCode = 'MIRROR_INVALID',
  ) {}

  /** `file:line:col` of a character offset. */
  whereAt(offset: number): string {
    const { line, col } = this.lines.linePos(Math.max(0, offset));
    return `${this.file}:${line}:${col}`;
  }

  /** `file:line:col` of a node; `fallback` when it has no position (an absent or empty value). */
  whereOf(node: unknown, fallback: string): string {
    if (isNullish(node)) return fallback;
    const range = (node as { range?: readonly number[] | null }).range;
    return range && typeof range[0] === 'number' ? this.whereAt(range[0]) : fallback;
  }

  problem(where: string, message: string, hint: string, cause?: unknown): void {
    this.problems.push(
      new AirlockError(this.code, message, { where, hint, ...(cause !== undefined ? { cause } : {}) }),
    );
  }

  /** Keep an AirlockError raised by a shared parser (parseReference, parsePlatform) as one problem. */
  adopt(err: unknown, where: string, fallbackMessage: string): void {
    if (err instanceof AirlockError) {
      // REFERENCE_INVALID keeps its code (same exit code 2); anything else is re-coded as a
      // mirror-list problem so every problem of this file shares one code family.
      if (err.code === 'REFERENCE_INVALID') {
        this.problems.push(err.where === where ? err : new AirlockError(err.code, err.message, { where, ...(err.hint ? { hint: err.hint } : {}), cause: err }));
      } else {
        this.problem(where, err.message, err.hint ?? 'see README "Write the mirror list"', err);
      }
      return;
    }
    this.problem(where, fallbackMessage, 'see README "Write the mirror list"', err);
  }

  /** Follow an alias to its anchor. An alias to nothing is a problem (and yields undefined). */
  resolve(node: unknown, fallback: string): unknown {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target === undefined) {
      this.problem(this.whereOf(node, fallback), `unknown alias \`*${node.source}\``, 'define the anchor (`&name`) before using it');
    }
    return target;
  }

  /**
   * A mapping with a fixed set of keys. Unknown keys are problems at the key, with a suggestion
   * when one allowed key is close. Duplicate keys are reported by the yaml library itself
   * (`uniqueKeys`); the first occurrence wins here.
   */
  map(node: unknown, what: string, allowed: readonly string[], fallback: string): Fields | undefined {
    const value = this.resolve(node, fallback);
    if (value === undefined) return undefined;
    if (!isMap(value)) {
      this.problem(this.whereOf(value, fallback), `${what} must be a mapping (key: value), not ${describe(value)}`, 'indent its keys under it, or write { key: value }');
      return undefined;
    }
    const out = new Fields();
    for (const pair of value.items) {
      const key = this.resolve(pair.key, fallback);
      const keyWhere = this.whereOf(pair.key, this.whereOf(value, fallback));
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.problem(keyWhere, `${what}: keys must be plain names, not ${describe(key)}`, 'write the key as a plain word');
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        const near = closest(name, allowed);
        if (near) out.misspelt.add(near);
        this.problem(
          keyWhere,
          `unknown key \`${name}\` in ${what}${near ? `; did you mean \`${near}\`?` : ''}`,
          `allowed keys here: ${allowed.join(', ')}`,
        );
        continue;
      }
      if (!out.has(name)) out.set(name, { name, where: keyWhere, value: pair.value });
    }
    return out;
  }

  /** The items of a sequence (aliases not yet resolved). */
  seq(node: unknown, what: string, fallback: string): unknown[] | undefined {
    const value = this.resolve(node, fallback);
    if (value === undefined) return undefined;
    if (!isSeq(value)) {
      this.problem(this.whereOf(value, fallback), `${what} must be a list, not ${describe(value)}`, 'write one `- item` per line under it, or [a, b]');
      return undefined;
    }
    return value.items;
  }

  /**
   * A string. A plain scalar that YAML read as a number (`version: 1.10`, `tags: [18]`) is taken
   * as written, because `1.10` as a number would be `1.1`.
   */
  string(node: unknown, what: string, fallback: string): string | undefined {
    const value = this.resolve(node, fallback);
    if (value === undefined) return undefined;
    if (isScalar(value)) {
      if (typeof value.value === 'string') {
        if (value.value.length === 0) {
          this.problem(this.whereOf(value, fallback), `${what} is empty`, 'give it a value or remove the key');
          return undefined;
        }
        return value.value;
      }
      if (typeof value.value === 'number' && value.type === 'PLAIN' && typeof value.source === 'string' && value.source !== '') {
        return value.source;
      }
    }
    this.problem(this.whereOf(value, fallback), `${what} must be a string, not ${describe(value)}`, isNullish(value) ? 'give it a value or remove the key' : 'quote it if YAML reads it as something else');
    return undefined;
  }

  boolean(node: unknown, what: string, fallback: string): boolean | undefined {
    const value = this.resolve(node, fallback);
    if (value === undefined) return undefined;
    if (isScalar(value) && typeof value.value === 'boolean') return value.value;
    this.problem(this.whereOf(value, fallback), `${what} must be true or false, not ${describe(value)}`, 'YAML 1.2 reads only true and false as booleans (yes/no/on/off are strings)');
    return undefined;
  }

  /** Is this value absent or `~`/`null`/empty (after aliases)? */
  isNull(node: unknown): boolean {
    const value = isAlias(node) ? node.resolve(this.doc) : node;
    return isNullish(value);
  }
}

function isNullish(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && (node as Scalar).value === null);
}

/** How a node reads in a message: `a list`, `the number 3`, `"abc"`. */
export function describe(node: unknown): string {
  if (isNullish(node)) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return `the string "${v.length > 60 ? `${v.slice(0, 57)}...` : v}"`;
    if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(node.source ?? v)}`;
    if (typeof v === 'boolean') return `\`${String(v)}\``;
    return 'a tagged value';
  }
  return 'an unexpected value';
}

/** The allowed name within edit distance 2 (or a third of its length), if exactly one is nearest. */
export function closest(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const candidate of allowed) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.min(2, Math.floor(name.length / 3)));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters (`tgas`) costs 1. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => {
    const row = new Array<number>(b.length + 1).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
