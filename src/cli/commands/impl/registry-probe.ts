import type { CliContext } from '../../context.js';
import { notImplemented } from '../../command.js';

export async function runProbe(_args: Record<string, unknown>, _ctx: CliContext): Promise<void> {
  notImplemented('registry probe', 5);
}
