import cliProgress from 'cli-progress';
import type { CopyEvent } from '../../copy/index.js';
import { formatBytes } from '../../util/index.js';
import type { CliContext } from '../context.js';

export interface Progress {
  onEvent(e: CopyEvent): void;
  /** Known total of bytes to move (updates the bar's total). */
  setTotal(bytes: number): void;
  stop(): void;
}

/**
 * Bars only on a TTY (and never with --json/--quiet); otherwise one line per artifact on stderr.
 * Stays within 80 columns.
 */
export function createProgress(ctx: CliContext, label: string, describe: (e: CopyEvent) => string | undefined): Progress {
  if (!ctx.interactive) {
    return {
      onEvent: (e) => {
        if (e.type === 'warning') ctx.logger.warn(e.message);
        const line = describe(e);
        if (line) ctx.status(line);
      },
      setTotal: () => {},
      stop: () => {},
    };
  }
  let total = 0;
  let value = 0;
  let started = false;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(8).slice(0, 8)} {bar} {percentage}% {done}/{all} {speed}/s ETA {eta_formatted}`,
      barsize: 20,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      stream: process.stderr,
      fps: 8,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let lastT = Date.now();
  let lastV = 0;
  let speed = 0;
  const payload = (): Record<string, string> => ({ done: formatBytes(value), all: formatBytes(total), speed: formatBytes(Math.round(speed)) });
  const ensure = (): void => {
    if (!started) {
      bar.start(Math.max(total, 1), value, payload());
      started = true;
    }
  };
  return {
    onEvent: (e) => {
      if (e.type === 'bytes') {
        value += e.bytes;
        if (value > total) total = value;
        const now = Date.now();
        if (now - lastT >= 500) {
          speed = ((value - lastV) * 1000) / (now - lastT);
          lastT = now;
          lastV = value;
        }
        ensure();
        bar.setTotal(Math.max(total, 1));
        bar.update(value, payload());
      } else if (e.type === 'warning') {
        ensure();
        bar.stop();
        started = false;
        ctx.logger.warn(e.message);
      }
    },
    setTotal: (bytes) => {
      total = bytes;
      if (started) bar.setTotal(Math.max(total, 1));
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
