import type { AirlockCommand } from '../command.js';
import { notImplemented } from '../command.js';

export const bundleDiff: AirlockCommand = {
  command: 'diff <old> <new>',
  describe: 'artifacts and blobs added, removed or changed between two bundles',
  builder: (y) =>
    y.positional('old', { type: 'string', describe: 'earlier bundle or its airlock.json' }).positional('new', { type: 'string', describe: 'later bundle or its airlock.json' }),
  run: async () => notImplemented('bundle diff', 7),
};
