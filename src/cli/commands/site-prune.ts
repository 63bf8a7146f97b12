import { examples, type AirlockCommand } from '../command.js';
import { CONCURRENCY_FLAG, DEST_FLAGS } from '../flags.js';

export const sitePrune: AirlockCommand = {
  command: 'prune',
  describe: 'delete manifests only bundles older than the last N imports delivered (dry run unless --apply)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 site prune --keep 3', 'the plan: what only older bundles delivered'],
        ['$0 site prune --keep 3 --apply', 'delete it'],
      ]))
      .option('keep', { type: 'number', demandOption: true, describe: 'keep what the last N bundle imports delivered' })
      .option('to', { type: 'string', describe: 'target registry HOST[:PORT][/PREFIX] (default: the newest import\'s)' })
      .option('state-dir', { type: 'string', describe: 'the state directory `bundle import --state-dir` used (default under $XDG_STATE_HOME)' })
      .option('apply', { type: 'boolean', default: false, describe: 'delete; without it prune only prints the plan' })
      .options(DEST_FLAGS)
      .options(CONCURRENCY_FLAG),
  run: async (args, ctx) => (await import('./impl/site-registry.js')).runSitePrune(args, ctx),
};
