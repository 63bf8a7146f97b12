import { LineCounter, parseDocument } from 'yaml';
import { AirlockError, type ErrorCode } from '../errors.js';

export interface ParseYamlDataOptions {
  /** Names the document in errors (a file, a URL, a chart entry). */
  readonly where: string;
  /** The code of the error thrown for bad YAML. */
  readonly code: ErrorCode;
}

/**
 * Parse a YAML document that is data, not a mirror list (Helm's index.yaml, Chart.yaml,
 * values.yaml) with the YAML 1.2 failsafe schema: every scalar stays the string it was written as,
 * so `tag: 1.10` is "1.10", not the number 1.1. Only this module imports `yaml` (docs/ARCHITECTURE.md "Where each dependency lives").
 * Duplicate keys are tolerated (Helm's parser keeps the last one), aliases are capped.
 */
export function parseYamlData(text: string, opts: ParseYamlDataOptions): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false, lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new AirlockError(opts.code, `YAML: ${(first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '')}`, {
      where: `${opts.where}:${pos.line}:${pos.col}`,
      hint: 'the document is not valid YAML',
    });
  }
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new AirlockError(opts.code, 'YAML: the document cannot be read as data', { where: opts.where, cause: err, hint: 'too many aliases, or an alias to nothing' });
  }
}
