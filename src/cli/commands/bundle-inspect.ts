import { examples, type AirlockCommand } from '../command.js';
import { SIGNATURE_FLAGS } from '../flags.js';

export const bundleInspect: AirlockCommand = {
  command: 'inspect <bundle>',
  describe: 'what is inside: artifacts, sizes, base bundles, signer (reads only the front)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle inspect site.tar.zst --verify-key dmz.pub', 'artifacts, sizes, bases and who signed'],
        ['$0 bundle inspect site.tar.zst --json', 'the same as one JSON document'],
      ]))
      .positional('bundle', { type: 'string', describe: 'bundle file, volume or directory' }).options(SIGNATURE_FLAGS)
      .option('policy', { type: 'string', describe: 'show what an import with this policy file would decide for each artifact (never refuses)' }),
  run: async (args, ctx) => (await import('./impl/bundle-inspect.js')).runInspect(args, ctx),
};
