import type { CliContext } from '../../context.js';
import { notImplemented } from '../../command.js';

export async function runImport(_args: Record<string, unknown>, _ctx: CliContext): Promise<void> {
  notImplemented('bundle import', 5);
}
