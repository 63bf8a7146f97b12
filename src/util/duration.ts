import { AirlockError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `36h`, `90m`, `2d`, `1d12h`, `3600s` or plain seconds → seconds. */
export function parseDuration(text: string, flag = '--max-age'): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  if (end === 0 || end !== t.length || total <= 0) {
    throw new AirlockError('USAGE', `${flag} ${JSON.stringify(text)} is not a duration`, { hint: 'write it as 36h, 90m, 2d, 1d12h or a number of seconds' });
  }
  return total;
}

/** Seconds as a short age: `90s`, `12m`, `3.5h`, `2.1d`. */
export function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 360) / 10}h`;
  return `${Math.round(seconds / 8640) / 10}d`;
}
