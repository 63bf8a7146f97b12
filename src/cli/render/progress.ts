import type { CopyEvent } from '../../ops/index.js';
import { formatBytes } from '../../util/index.js';
import type { CliContext } from '../context.js';
import { stderrLine, type LiveLine } from './live.js';

export interface Progress {
  onEvent(e: CopyEvent): void;
  /** Known total of bytes to move: turns the counter into a bar with a percentage and an ETA. */
  setTotal(bytes: number): void;
  stop(): void;
}

const REDRAW_MS = 125;
const BAR_WIDTH = 20;

/**
 * On a TTY (and never with --json/--quiet): one status line redrawn in place on stderr, at most
 * 80 columns, with the per-artifact lines printed above it; cleared before the summary. Otherwise:
 * one line per artifact on stderr and nothing else.
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
  return new LiveProgress(stderrLine(), label, describe, (m) => ctx.logger.warn(m));
}

class LiveProgress implements Progress {
  readonly #line: LiveLine;
  readonly #label: string;
  readonly #describe: (e: CopyEvent) => string | undefined;
  readonly #warn: (m: string) => void;
  #total = 0;
  #value = 0;
  #blobs = 0;
  #speed = 0;
  #sampleT = Date.now();
  #sampleV = 0;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #stopped = false;

  constructor(line: LiveLine, label: string, describe: (e: CopyEvent) => string | undefined, warn: (m: string) => void) {
    this.#line = line;
    this.#label = label.padEnd(7).slice(0, 7);
    this.#describe = describe;
    this.#warn = warn;
  }

  onEvent(e: CopyEvent): void {
    if (this.#stopped) return;
    switch (e.type) {
      case 'bytes':
        this.#value += e.bytes;
        this.#dirty = true;
        break;
      case 'blob-done':
        this.#blobs++;
        this.#dirty = true;
        break;
      case 'warning':
        this.#warn(e.message);
        break;
      default:
        break;
    }
    const text = this.#describe(e);
    if (text) this.#line.log(text);
    this.#start();
  }

  setTotal(bytes: number): void {
    this.#total = bytes;
    this.#dirty = true;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#line.clear();
  }

  #start(): void {
    if (this.#timer) return;
    this.#draw();
    this.#timer = setInterval(() => this.#tick(), REDRAW_MS);
    this.#timer.unref();
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#sampleT >= 1000) {
      const instant = ((this.#value - this.#sampleV) * 1000) / (now - this.#sampleT);
      this.#speed = this.#speed === 0 ? instant : 0.6 * this.#speed + 0.4 * instant;
      this.#sampleT = now;
      this.#sampleV = this.#value;
      this.#dirty = true;
    }
    if (this.#dirty) this.#draw();
  }

  #draw(): void {
    this.#dirty = false;
    const speed = this.#speed > 0 ? `${formatBytes(Math.round(this.#speed))}/s` : '';
    const blobs = `${this.#blobs} blob${this.#blobs === 1 ? '' : 's'}`;
    if (this.#total > 0) {
      const ratio = Math.min(1, this.#value / this.#total);
      const filled = Math.round(ratio * BAR_WIDTH);
      const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
      const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
      const eta = this.#speed > 0 && ratio < 1 ? `ETA ${formatDuration((this.#total - this.#value) / this.#speed)}` : '';
      this.#line.draw([this.#label, bar, pct, `${formatBytes(this.#value)}/${formatBytes(this.#total)}`, speed, eta].filter(Boolean).join(' '));
    } else {
      this.#line.draw([this.#label, formatBytes(this.#value), speed, blobs].filter(Boolean).join('  '));
    }
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
