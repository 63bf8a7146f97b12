import { examples, type AirlockCommand } from '../command.js';
import { SIGNATURE_FLAGS } from '../flags.js';

export const bundleServe: AirlockCommand = {
  command: 'serve <bundle..>',
  describe: 'read-only OCI registry straight from a bundle (the registry of last resort)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle serve site.tar --verify-key dmz.pub', 'a read-only registry on 127.0.0.1:5000'],
        ['$0 bundle serve site.tar --key dmz.pub --listen 0.0.0.0:5443 --tls-cert srv.crt --tls-key srv.key --htpasswd users', 'beyond loopback: HTTPS and passwords'],
      ]))
      .positional('bundle', { type: 'string', array: true, describe: 'bundle directory or .tar (a .tar.zst is unpacked once to --cache), or volumes of one bundle' })
      .option('listen', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on; beyond loopback, add --tls-cert/--tls-key and --htpasswd' })
      .option('tls-cert', { type: 'string', describe: 'serve HTTPS with this PEM certificate (chain); with --tls-key' })
      .option('tls-key', { type: 'string', describe: 'the PEM private key of --tls-cert' })
      .option('htpasswd', { type: 'string', describe: 'require Basic auth from the users of this file (bcrypt entries: htpasswd -B FILE USER)' })
      .option('layout', { choices: ['flat', 'scoped'] as const, default: 'flat' as const, describe: 'repository naming, as import --layout' })
      .option('cache', { type: 'string', describe: 'where a .tar.zst is unpacked (default $XDG_CACHE_HOME/airlock/serve)' })
      .options(SIGNATURE_FLAGS),
  run: async (args, ctx) => (await import('./impl/bundle-serve.js')).runServe(args, ctx),
};
