import type { CliContext } from '../../context.js';
import { notImplemented } from '../../command.js';

export async function runInspect(_args: Record<string, unknown>, _ctx: CliContext): Promise<void> {
  notImplemented('bundle inspect', 9);
}
