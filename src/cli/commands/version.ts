import { examples, type AirlockCommand } from '../command.js';

export const version: AirlockCommand = {
  command: 'version',
  describe: 'version, commit, Node version, and whether this is the single executable',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 version --json', 'version, commit, Node version as JSON'],
      ])),
  run: async (args, ctx) => (await import('./impl/version.js')).runVersion(args, ctx),
};
