import { isAirlockError } from '../errors.js';

/** An error as the site's import record keeps it: its code and message, no stack. */
export function errorToRecord(err: unknown): { code: string; message: string } {
  if (isAirlockError(err)) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
