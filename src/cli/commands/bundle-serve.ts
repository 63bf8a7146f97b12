import { examples, type AirlockCommand } from '../command.js';
import { SIGNATURE_FLAGS } from '../flags.js';

export const bundleServe: AirlockCommand = {
  command: 'serve <bundle..>',
  describe: 'read-only OCI registry straight from a bundle (the registry of last resort)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle serve site.tar --verify-key dmz.pub', 'a read-only registry on 127.0.0.1:5000'],
      ]))
      .positional('bundle', { type: 'string', array: true, describe: 'bundle directory or .tar (a .tar.zst is unpacked once to --cache), or volumes of one bundle' })
      .option('listen', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (plain HTTP, no auth: keep it on loopback unless you mean it)' })
      .option('layout', { choices: ['flat', 'scoped'] as const, default: 'flat' as const, describe: 'repository naming, as import --layout' })
      .option('cache', { type: 'string', describe: 'where a .tar.zst is unpacked (default $XDG_CACHE_HOME/airlock/serve)' })
      .options(SIGNATURE_FLAGS),
  run: async (args, ctx) => (await import('./impl/bundle-serve.js')).runServe(args, ctx),
};
