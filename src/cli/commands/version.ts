import type { AirlockCommand } from '../command.js';

export const version: AirlockCommand = {
  command: 'version',
  describe: 'version, commit, Node version, and whether this is the single executable',
  builder: (y) => y,
  run: async (args, ctx) => (await import('./impl/version.js')).runVersion(args, ctx),
};
