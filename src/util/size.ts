import { AirlockError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30, ti: 2 ** 40, tib: 2 ** 40,
};

/** `4GiB`, `700MB`, `1.5G`, `1048576` → bytes. Decimal units are powers of 1000, binary of 1024. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = UNITS[unit];
  if (!m || factor === undefined) {
    throw new AirlockError('USAGE', `invalid ${what} "${text}"`, {
      hint: 'use a number with an optional unit: 700MB, 4GiB, 4.7GB',
    });
  }
  const bytes = Math.floor(Number(m[1]) * factor);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new AirlockError('USAGE', `invalid ${what} "${text}": must be a positive size`);
  }
  return bytes;
}

/** Human-readable bytes with binary units: 1.5 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}
