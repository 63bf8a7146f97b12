import type { AirlockCommand } from '../command.js';
import { DEST_FLAGS } from '../flags.js';

export const registryProbe: AirlockCommand = {
  command: 'probe <registry>',
  describe: 'what a target supports: auth scheme, referrers API, OCI and Docker media types, mount, chunked upload',
  builder: (y) => y.positional('registry', { type: 'string', describe: 'HOST[:PORT][/PREFIX]' }).options(DEST_FLAGS),
  run: async (args, ctx) => (await import('./impl/registry-probe.js')).runProbe(args, ctx),
};
