import { examples, type AirlockCommand } from '../command.js';

export const keysGenerate: AirlockCommand = {
  command: 'generate',
  describe: 'make a signing key pair: PREFIX.key (private, 0600) and PREFIX.pub',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 keys generate --out dmz', 'dmz.key (0600) and dmz.pub, ECDSA P-256'],
        ['AIRLOCK_KEY_PASSWORD=... $0 keys generate --out dmz --type ed25519 --encrypt', 'an encrypted Ed25519 key'],
      ]))
      .option('out', { type: 'string', demandOption: true, describe: 'path prefix for PREFIX.key and PREFIX.pub' })
      .option('type', { choices: ['ecdsa-p256', 'ed25519'] as const, default: 'ecdsa-p256' as const, describe: 'key type' })
      .option('encrypt', { type: 'boolean', default: false, describe: 'encrypt the private key with a passphrase (AIRLOCK_KEY_PASSWORD or a prompt)' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite existing files' }),
  run: async (args, ctx) => (await import('./impl/keys-generate.js')).runKeysGenerate(args, ctx),
};
