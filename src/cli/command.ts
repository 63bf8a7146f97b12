import type { Argv } from 'yargs';
import { AirlockError } from '../errors.js';
import type { CliContext } from './context.js';

/** A contract command: yargs wiring plus a handler that receives the parsed args and the context. */
export interface AirlockCommand {
  readonly command: string;
  readonly describe: string;
  builder(y: Argv): Argv;
  /** Loaded lazily so `--help` does not import the whole tool. */
  run(args: Record<string, unknown>, ctx: CliContext): Promise<void>;
}

export function notImplemented(what: string, issue: number): never {
  throw new AirlockError('NOT_IMPLEMENTED', `${what} is not implemented yet`, {
    hint: `tracked in issue #${issue}`,
  });
}

/**
 * A command's Examples, as the help's closing section: each a comment line (what it does) over
 * the command line, so the command can be copied whole (yargs' own two-column examples split long
 * command lines into pieces). `$0` becomes `airlock`.
 */
export function examples(list: readonly (readonly [command: string, what: string])[]): string {
  return ['Examples:', ...list.flatMap(([command, what]) => [`  # ${what}`, `  ${command}`])].join('\n');
}
