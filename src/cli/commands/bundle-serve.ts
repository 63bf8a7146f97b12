import type { AirlockCommand } from '../command.js';
import { notImplemented } from '../command.js';
import { SIGNATURE_FLAGS } from '../flags.js';

export const bundleServe: AirlockCommand = {
  command: 'serve <bundle>',
  describe: 'read-only OCI registry straight from a bundle',
  builder: (y) =>
    y
      .positional('bundle', { type: 'string', describe: 'bundle directory or .tar (a .tar.zst is unpacked once)' })
      .option('listen', { type: 'string', default: '127.0.0.1:5000', describe: 'address to listen on' })
      .option('layout', { choices: ['flat', 'scoped'] as const, default: 'flat' as const, describe: 'repository naming, as import --layout' })
      .options(SIGNATURE_FLAGS),
  run: async () => notImplemented('bundle serve', 9),
};
