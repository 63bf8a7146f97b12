import { examples, type AirlockCommand } from '../command.js';

export const bundleDiff: AirlockCommand = {
  command: 'diff <old> <new>',
  describe: 'artifacts and blobs added, removed or changed between two bundles, and what a delta would carry (reads only the fronts)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle diff week-1.tar.zst week-2.tar.zst', 'what changed between two bundles'],
        ['$0 bundle diff receipt.json week-2.tar.zst --json', 'what the site lacks, from its import receipt'],
      ]))
      .positional('old', { type: 'string', describe: 'earlier bundle (file, volume, directory), its airlock.json, or a site\'s receipt.json' })
      .positional('new', { type: 'string', describe: 'later bundle (file, volume, directory) or its airlock.json' })
      .option('blobs', { type: 'boolean', default: false, describe: 'also list every blob added and removed' }),
  run: async (args, ctx) => (await import('./impl/bundle-diff.js')).runDiff(args, ctx),
};
