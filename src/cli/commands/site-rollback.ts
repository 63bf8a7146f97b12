import type { AirlockCommand } from '../command.js';
import { DEST_FLAGS } from '../flags.js';

export const siteRollback: AirlockCommand = {
  command: 'rollback <ref>',
  describe: 'point a tag back at the digest an import moved it off (audited)',
  builder: (y) =>
    y
      .positional('ref', { type: 'string', describe: 'HOST[:PORT]/REPOSITORY:TAG in the site registry' })
      .option('state-dir', { type: 'string', describe: 'the state directory `bundle import --state-dir` used (default under $XDG_STATE_HOME)' })
      .option('digest', { type: 'string', describe: 'go back to this digest instead of the recorded previous one' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would move; move nothing' })
      .options(DEST_FLAGS),
  run: async (args, ctx) => (await import('./impl/site-registry.js')).runSiteRollback(args, ctx),
};
