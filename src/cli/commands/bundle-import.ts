import { examples, type AirlockCommand } from '../command.js';
import { CONCURRENCY_FLAG, DEST_FLAGS, SIGNATURE_FLAGS } from '../flags.js';

export const bundleImport: AirlockCommand = {
  command: 'import <bundle..>',
  describe: 'verify a bundle offline, then push it into the site registry (isolated side)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle import site.tar.zst --to harbor.intern/mirror --verify-key dmz.pub', 'verify, then push into harbor.intern under mirror/'],
        ['echo "$PASS" | $0 bundle import site.tar.zst --to harbor.intern --key dmz.pub --dest-username robot --dest-password-stdin', 'with a password on stdin'],
        ['$0 bundle import site.vol00{1,2}.tar.zst --to 127.0.0.1:5000 --key dmz.pub --dest-tls-verify=false --dry-run', 'the plan for two volumes, pushing nothing'],
      ]))
      .positional('bundle', { type: 'string', array: true, describe: 'bundle file, directory, or one or more volumes' })
      .option('to', { type: 'string', demandOption: true, describe: 'target registry HOST[:PORT][/PREFIX]' })
      .option('layout', { choices: ['flat', 'scoped'] as const, default: 'flat' as const, describe: 'flat: HOST/PREFIX/apache/superset; scoped: HOST/PREFIX/docker.io/apache/superset' })
      .options(SIGNATURE_FLAGS)
      .options(DEST_FLAGS)
      .option('dry-run', { type: 'boolean', default: false, describe: 'verify and print the plan; push nothing' })
      .option('out-dir', { type: 'string', describe: 'where the image map, mirror configs, files and receipt go' })
      .option('state-dir', { type: 'string', describe: 'import journal and the site record `airlock site` reads (default under $XDG_STATE_HOME)' })
      .option('keep-previous-tags', { type: 'boolean', default: false, describe: 'before a tag moves, keep its previous digest under TAG-prev-<n> (for `airlock site rollback`)' })
      .option('policy', { type: 'string', describe: 'policy file (YAML): rules every image and chart must meet, judged offline before anything is pushed (exit 3 on a violation)' })
      .option('require-upstream-signatures', { type: 'boolean', default: false, describe: 're-verify every vendor signature offline before pushing' })
      .option('sign-key', { type: 'string', describe: 'sign the receipt.json with this private key' })
      .option('push-files', { type: 'boolean', default: false, describe: 'also push delivered files to the target as OCI artifacts' })
      .option('values', { type: 'string', array: true, describe: 'a vendor Helm values file to rewrite to the mirror: out-dir/NAME.mirrored.yaml (repeatable)' })
      .option('compose', { type: 'string', array: true, describe: 'a Compose file (and the .env beside it) to rewrite to the mirror: out-dir/NAME.mirrored.yml (repeatable)' })
      .option('pull-secret-name', { type: 'string', default: 'airlock-mirror', describe: 'name of the Secret in out-dir/pull-secret.yaml (written when the password came from stdin or --authfile)' })
      .option('pull-secret-namespace', { type: 'string', describe: 'namespace of that Secret' })
      .option('create-projects', { type: 'boolean', default: false, describe: 'Harbor: create missing projects through its API with the destination credentials' })
      .options(CONCURRENCY_FLAG),
  run: async (args, ctx) => (await import('./impl/bundle-import.js')).runImport(args, ctx),
};
