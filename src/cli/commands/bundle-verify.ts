import { examples, type AirlockCommand } from '../command.js';
import { SIGNATURE_FLAGS } from '../flags.js';

export const bundleVerify: AirlockCommand = {
  command: 'verify <bundle..>',
  describe: 'offline: check the signature and every digest, with no registry',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle verify site.tar.zst --verify-key dmz.pub', 'the signature and every digest, offline'],
        ['$0 bundle verify site.tar.zst --key cosign.pub --upstream', 'also re-check the vendor signatures'],
      ]))
      .positional('bundle', { type: 'string', array: true, describe: 'bundle file, directory, or one or more volumes' })
      .options(SIGNATURE_FLAGS)
      .option('upstream', { type: 'boolean', default: false, describe: 'also re-check the vendor signatures recorded at export' }),
  run: async (args, ctx) => (await import('./impl/bundle-verify.js')).runVerify(args, ctx),
};
