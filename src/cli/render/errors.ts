import { AirlockError, MultiError, DigestMismatchError, isAirlockError } from '../../errors.js';
import { MAX_COLUMNS } from './live.js';
import { wrapText } from './logger.js';

/**
 * The only place errors are formatted for people: what failed, where, why, what next. On a
 * terminal, lines are wrapped at words to its width (at most 80).
 */
export function formatError(err: unknown, verbose: boolean): string {
  const text = formatErrorLines(err, verbose);
  return process.stderr.isTTY ? wrapText(text, Math.min(process.stderr.columns || MAX_COLUMNS, MAX_COLUMNS)) : text;
}

function formatErrorLines(err: unknown, verbose: boolean): string {
  if (!isAirlockError(err)) {
    const e = err instanceof Error ? err : new Error(String(err));
    const lines = [`error: internal error: ${e.message}`, '  hint: this is a bug in airlock; please report it with the output of --verbose'];
    if (verbose && e.stack) lines.push(indent(e.stack));
    return lines.join('\n');
  }
  const lines = [`error: ${err.message}`];
  if (err.where) lines.push(`  in:   ${err.where}`);
  if (err instanceof DigestMismatchError) lines.push(`  got:  ${err.actual} after ${err.bytesRead.toLocaleString('en-US')} bytes`);
  if (err instanceof MultiError) {
    for (const p of err.problems) {
      lines.push(`  - ${p.where ? `${p.where}: ` : ''}${p.message}${p.hint ? ` (${p.hint})` : ''}`);
    }
  }
  if (err.hint) lines.push(`  hint: ${err.hint}`);
  if (verbose) {
    let cause: unknown = err.cause;
    let depth = 0;
    while (cause !== undefined && depth++ < 8) {
      const c = cause as { message?: unknown; code?: unknown; cause?: unknown; stack?: unknown };
      lines.push(`  cause: ${String(c.message ?? cause)}${typeof c.code === 'string' ? ` [${c.code}]` : ''}`);
      cause = c.cause;
    }
    if (err.code === 'INTERNAL' && err.stack) lines.push(indent(err.stack));
  }
  return lines.join('\n');
}

export function errorToJson(err: unknown): { version: 1; error: Record<string, unknown> } {
  if (!isAirlockError(err)) {
    return { version: 1, error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), exitCode: 1 } };
  }
  const e: AirlockError = err;
  return {
    version: 1,
    error: {
      code: e.code,
      message: e.message,
      exitCode: e.exitCode,
      ...(e.where ? { where: e.where } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
      ...(e instanceof MultiError ? { problems: e.problems.map((p) => ({ code: p.code, message: p.message, where: p.where, hint: p.hint })) } : {}),
    },
  };
}

function indent(s: string): string {
  return s.split('\n').map((l) => `    ${l}`).join('\n');
}
