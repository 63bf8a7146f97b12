import type { CliContext } from '../../context.js';
import { notImplemented } from '../../command.js';

export async function runExport(_args: Record<string, unknown>, _ctx: CliContext): Promise<void> {
  notImplemented('bundle export', 4);
}
