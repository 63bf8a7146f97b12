/**
 * Libraries never print: they receive a Logger and report facts. `cli/` decides what humans see.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export const NOOP_LOGGER: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
});
