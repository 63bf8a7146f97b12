import type { CliContext } from '../../context.js';
import { notImplemented } from '../../command.js';

export async function runKeysGenerate(_args: Record<string, unknown>, _ctx: CliContext): Promise<void> {
  notImplemented('keys generate', 6);
}
