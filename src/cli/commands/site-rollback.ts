import { examples, type AirlockCommand } from '../command.js';
import { DEST_FLAGS } from '../flags.js';

export const siteRollback: AirlockCommand = {
  command: 'rollback <ref>',
  describe: 'point a tag back at the digest an import moved it off (audited)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 site rollback harbor.intern/mirror/demo/app:1.0 --dry-run', 'what would move back'],
        ['$0 site rollback harbor.intern/mirror/demo/app:1.0', 'point the tag back at its previous digest'],
      ]))
      .positional('ref', { type: 'string', describe: 'HOST[:PORT]/REPOSITORY:TAG in the site registry' })
      .option('state-dir', { type: 'string', describe: 'the state directory `bundle import --state-dir` used (default under $XDG_STATE_HOME)' })
      .option('digest', { type: 'string', describe: 'go back to this digest instead of the recorded previous one' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would move; move nothing' })
      .options(DEST_FLAGS),
  run: async (args, ctx) => (await import('./impl/site-registry.js')).runSiteRollback(args, ctx),
};
