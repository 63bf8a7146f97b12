import { examples, type AirlockCommand } from '../command.js';

export const bundleRepair: AirlockCommand = {
  command: 'repair <files..>',
  describe: 'rebuild lost or damaged volumes of a split bundle from its parity volumes (export --parity)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle repair site.vol*.tar.zst site.par*', 'rebuild lost or damaged volumes from the parity volumes'],
        ['$0 bundle repair site.vol*.tar.zst site.par* --dry-run', 'only say what would be rebuilt'],
      ]))
      .positional('files', { type: 'string', array: true, describe: 'the volumes and parity volumes (OUT.vol*.tar.zst OUT.par*); missing ones are found by name beside them' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'check every file and say what would be rebuilt; write nothing' }),
  run: async (args, ctx) => (await import('./impl/bundle-repair.js')).runRepair(args, ctx),
};
