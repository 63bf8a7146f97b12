import { examples, type AirlockCommand } from '../command.js';
import { DEST_FLAGS } from '../flags.js';

export const registryProbe: AirlockCommand = {
  command: 'probe <registry>',
  describe: 'what a target supports: auth scheme, referrers API, OCI and Docker media types, mount, chunked upload',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 registry probe harbor.intern/mirror --dest-creds robot:TOKEN', 'what the target supports, before the first import'],
        ['$0 registry probe 127.0.0.1:5000 --dest-tls-verify=false --json', 'a plain-HTTP registry, as JSON'],
      ]))
      .positional('registry', { type: 'string', describe: 'HOST[:PORT][/PREFIX]' }).options(DEST_FLAGS),
  run: async (args, ctx) => (await import('./impl/registry-probe.js')).runProbe(args, ctx),
};
