/** The bench's stdout table: one row per phase and tool (medians), then the target ratios. */
import { formatBytes } from '../../src/util/index.js';
import type { Measurement } from './measure.js';

export interface Row {
  readonly key: string;
  readonly phase: string;
  readonly tool: string;
  readonly m?: Measurement;
  readonly extra?: Record<string, number>;
  readonly ratio?: number;
  readonly target?: string;
}

function pad(cells: readonly string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`).join('\n');
}

export function formatTable(rows: readonly Row[]): string {
  const head = ['phase', 'tool', 'wall s', 'client CPU s', 'registry CPU s', 'peak RSS MiB', 'minor faults client/registry', 'disk written', 'loopback bytes', 'output'];
  const measured = rows.filter((r) => r.m).map((r) => {
    const m = r.m!;
    const out = r.extra?.outputBytes ?? r.extra?.bytes;
    return [
      r.phase, r.tool, m.wallS.toFixed(2), m.cpuS.toFixed(2), m.registryCpuS.toFixed(2), m.maxRssMiB.toFixed(0), `${m.minorFaults}/${m.registryMinorFaults}`,
      formatBytes(m.diskWriteBytes), formatBytes(m.loopbackBytes), out !== undefined ? formatBytes(out) : '',
    ];
  });
  const ratios = rows.filter((r) => r.ratio !== undefined).map((r) => [r.tool, r.ratio!.toFixed(3), r.target ?? '']);
  return [
    'medians of the runs',
    pad([head, head.map((h) => '-'.repeat(h.length)), ...measured]),
    '',
    pad([['ratio', 'value', 'target'], ['-----', '-----', '------'], ...ratios]),
  ].join('\n');
}
