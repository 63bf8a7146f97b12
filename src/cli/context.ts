import type { Logger } from '../log.js';

/** What every command handler gets from main: output channels, the logger and cancellation. */
export interface CliContext {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** Progress bars only on a TTY and never with --quiet/--json. */
  readonly interactive: boolean;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The command's result: human text (ignored under --json). */
  out(text: string): void;
  /** The command's result under --json: one document on stdout. */
  outJson(doc: unknown): void;
  /**
   * A result that is not an error but must not exit 0 (`site status --max-age` on a stale site):
   * the command prints its result as usual and sets this; main exits with it.
   */
  exitCode?: number;
  /** A line on stderr (progress, non-TTY artifact lines); suppressed by --quiet. */
  status(text: string): void;
}

export interface GlobalArgs {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}
