import type { Logger } from '../../log.js';
import { MAX_COLUMNS, writeStderr } from './live.js';

export interface StderrLoggerOptions {
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly write?: (s: string) => void;
  /** Wrap lines at this width (a terminal); default: stderr's width when it is a TTY, else none. */
  readonly width?: number;
}

/** Logger that writes to stderr: warnings always (unless quiet), info unless quiet, debug with --verbose. */
export function createStderrLogger(opts: StderrLoggerOptions): Logger {
  // Through the status line, so a log line never lands in the middle of a progress bar.
  const raw = opts.write ?? writeStderr;
  const width = opts.width ?? (opts.write === undefined && process.stderr.isTTY ? Math.min(process.stderr.columns || MAX_COLUMNS, MAX_COLUMNS) : undefined);
  const write = (s: string): void => raw(width ? wrapText(s, width) : s);
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

/**
 * Wrap each line at spaces to `width` columns, continuation lines hanging under the text after a
 * `label: ` (`warning: `, `  hint: `): a terminal would otherwise cut words in half. A word
 * longer than the width (a path, a URL) stays whole.
 */
export function wrapText(text: string, width: number): string {
  const trailing = text.endsWith('\n');
  const out = (trailing ? text.slice(0, -1) : text).split('\n').map((line) => {
    if ([...line].length <= width) return line;
    const hang = ' '.repeat(Math.min(12, Math.max(2, /^\s*(?:[a-z]+:\s+)?/.exec(line)![0].length)));
    const lead = /^\s*/.exec(line)![0];
    const rows: string[] = [];
    let row = lead;
    for (const w of line.slice(lead.length).split(' ')) {
      const fresh = row.trim() === '';
      const candidate = fresh ? `${row}${w}` : `${row} ${w}`;
      if ([...candidate].length > width && !fresh) {
        rows.push(row);
        row = `${hang}${w}`;
      } else {
        row = candidate;
      }
    }
    rows.push(row);
    return rows.join('\n');
  });
  return out.join('\n') + (trailing ? '\n' : '');
}
