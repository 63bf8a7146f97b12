/**
 * One status line at the bottom of stderr, redrawn in place with a carriage return. Everything
 * else written to stderr while it shows (log lines, warnings, one line per artifact) goes through
 * `writeStderr`, which clears the status line, prints above it, and redraws it: no bar fragments
 * glued to log lines, no leftover bar when the command ends.
 */

/** Status lines never exceed this, even on a wider terminal (README and review: 80 columns). */
export const MAX_COLUMNS = 80;

interface Out {
  write(s: string): boolean;
  readonly columns?: number;
}

export class LiveLine {
  readonly #out: Out;
  #text = '';
  #shown = false;

  constructor(out: Out) {
    this.#out = out;
  }

  /** Usable width: one less than the terminal (a full-width line would make it wrap). */
  get width(): number {
    return Math.min(this.#out.columns || MAX_COLUMNS, MAX_COLUMNS) - 1;
  }

  get active(): boolean {
    return this.#shown;
  }

  draw(text: string): void {
    this.#text = fitWidth(text, this.width);
    this.#out.write(`\r${this.#text}\x1b[K`);
    this.#shown = true;
  }

  /** A whole line (or lines) above the status line. */
  log(s: string): void {
    const text = s.endsWith('\n') ? s : `${s}\n`;
    if (!this.#shown) {
      this.#out.write(text);
      return;
    }
    this.#out.write(`\r\x1b[K${text}${this.#text}\x1b[K`);
  }

  clear(): void {
    if (this.#shown) this.#out.write('\r\x1b[K');
    this.#shown = false;
    this.#text = '';
  }
}

/** Cut to `width` characters, marking the cut. */
export function fitWidth(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

let shared: LiveLine | undefined;

/** The process's stderr status line. */
export function stderrLine(): LiveLine {
  shared ??= new LiveLine(process.stderr);
  return shared;
}

/** Write to stderr above the status line, if one is showing. */
export function writeStderr(s: string): void {
  if (shared?.active) shared.log(s);
  else process.stderr.write(s);
}
