import { examples, type AirlockCommand } from '../command.js';
import { CONCURRENCY_FLAG, SOURCE_FLAGS } from '../flags.js';

export const bundleExport: AirlockCommand = {
  command: 'export',
  describe: 'pin, download and write one signed, deduplicated bundle from mirror lists (connected side)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 bundle export -f mirror.yaml -o site.tar.zst --sign-key dmz.key', 'a signed, zstd-compressed bundle'],
        ['$0 bundle export -f mirror.yaml --dry-run', 'what would be carried, downloading no layer'],
        ['$0 bundle export -f mirror.yaml -o week-2.tar.zst --key dmz.key --since week-1.tar.zst', 'a delta: only what week-1 lacks'],
        ['$0 bundle export -f mirror.yaml -o site.tar.zst --key dmz.key --split-size 4GiB', 'volumes of at most 4 GiB (FAT32)'],
      ]))
      .option('file', { alias: 'f', type: 'string', array: true, demandOption: true, describe: 'mirror list (MIRROR.yaml); repeatable, lists are merged' })
      .option('output', { alias: 'o', type: 'string', describe: 'bundle to write: x.tar.zst (zstd), x.tar (none), or a directory' })
      .option('since', { type: 'string', array: true, describe: 'make a delta against an earlier bundle, its airlock.json, or an import receipt.json; repeatable' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'resolve and plan only; download no layer' })
      .option('sign-key', { type: 'string', alias: 'key', describe: 'private key: PREFIX.key from `airlock keys generate` (PEM, ECDSA P-256 or Ed25519) or a cosign.key (ENCRYPTED SIGSTORE PRIVATE KEY; passphrase from AIRLOCK_KEY_PASSWORD or COSIGN_PASSWORD); --key as in cosign' })
      .option('keyless', { type: 'boolean', default: false, describe: 'sign keyless: a Fulcio certificate for your OIDC identity, logged in Rekor (goes to the network)' })
      .option('identity-token', { type: 'string', describe: '--keyless: file holding the OIDC token (default: $SIGSTORE_ID_TOKEN or the GitHub Actions token)' })
      .option('fulcio-url', { type: 'string', describe: '--keyless: Fulcio (default https://fulcio.sigstore.dev)' })
      .option('rekor-url', { type: 'string', describe: '--keyless: Rekor (default https://rekor.sigstore.dev)' })
      .option('tsa-url', { type: 'string', alias: 'timestamp-server-url', describe: '--keyless: also get an RFC 3161 timestamp from this authority (e.g. https://timestamp.sigstore.dev; cosign\'s full .../api/v1/timestamp form works too)' })
      .option('trusted-root', { type: 'string', describe: 'Sigstore trusted_root.json: for keyless verify: entries without their own trustedRoot (carried in the bundle), and with --keyless, checked against the new signature before the bundle is written' })
      .option('platform', { type: 'string', array: true, describe: 'keep only these platforms of multi-arch images (OS/ARCH[/VARIANT]); repeatable' })
      .option('split-size', { type: 'string', describe: 'write volumes of at most SIZE (4GiB, 700MB) instead of one file' })
      .option('parity', { type: 'number', describe: 'with --split-size: N parity volumes OUT.par001… so any N lost or damaged files can be rebuilt (`bundle repair`)' })
      .option('cache', { type: 'string', describe: 'content-addressed download cache (default under $XDG_CACHE_HOME); --no-cache: none (each blob written once, into the bundle only)' })
      .option('lock', { type: 'string', describe: 'write (or with --locked, obey) the resolved tag→digest lock file' })
      .option('locked', { type: 'boolean', default: false, describe: 'refuse to export anything that differs from --lock' })
      .option('receipt-key', { type: 'string', array: true, describe: 'public key that must have signed a --since receipt.json' })
      .option('compression-level', { type: 'number', describe: 'zstd level for .tar.zst output' })
      .option('include-tool', { type: 'boolean', default: false, describe: 'write this tool\'s single executable beside the bundle (recorded, with its sha256, in the signed airlock.json)' })
      .options(SOURCE_FLAGS)
      .options(CONCURRENCY_FLAG)
      .check((a) => {
        if (!a['dry-run'] && !a.output) throw new Error('missing -o/--output (or use --dry-run)');
        if (!a.keyless && (a['identity-token'] || a['fulcio-url'] || a['rekor-url'] || a['tsa-url'])) throw new Error('--identity-token, --fulcio-url, --rekor-url and --tsa-url go with --keyless');
        return true;
      }),
  run: async (args, ctx) => (await import('./impl/bundle-export.js')).runExport(args, ctx),
};
