import type { Logger } from '../../log.js';

/** Logger that writes to stderr: warnings always (unless quiet), info unless quiet, debug with --verbose. */
export function createStderrLogger(opts: { quiet: boolean; verbose: boolean; write?: (s: string) => void }): Logger {
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  const fmt = (fields?: Record<string, unknown>): string =>
    fields && Object.keys(fields).length > 0
      ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
      : '';
  return {
    debug: (m, f) => {
      if (opts.verbose) write(`debug: ${m}${fmt(f)}\n`);
    },
    info: (m, f) => {
      if (!opts.quiet) write(`${m}${fmt(f)}\n`);
    },
    warn: (m, f) => {
      if (!opts.quiet) write(`warning: ${m}${fmt(f)}\n`);
    },
  };
}
