import type { Options } from 'yargs';

/** Every flag of the contract in one file, grouped as the commands share them. */

export const GLOBAL_FLAGS = {
  json: { type: 'boolean', describe: 'machine output on stdout (logs stay on stderr)', default: false },
  quiet: { type: 'boolean', alias: 'q', describe: 'only errors on stderr', default: false },
  verbose: { type: 'boolean', alias: 'v', describe: 'debug logs (HTTP requests with redacted URLs, error causes)', default: false },
} as const satisfies Record<string, Options>;

export const SIGNATURE_FLAGS = {
  'verify-key': { type: 'string', array: true, alias: 'key', describe: 'public key that must have signed the bundle (PEM: `airlock keys generate`\'s PREFIX.pub, or a cosign.pub); repeatable (any one suffices); --key as in cosign' },
  'trusted-root': { type: 'string', describe: 'Sigstore trusted_root.json for offline keyless verification; also wins over the roots carried in the bundle for vendor signatures' },
  'certificate-identity': { type: 'string', describe: 'keyless: exact signer identity (SAN)' },
  'certificate-identity-regexp': { type: 'string', describe: 'keyless: signer identity as a regular expression, UNANCHORED as in cosign (Go MatchString): use ^...$ to match the whole identity' },
  'certificate-oidc-issuer': { type: 'string', describe: 'keyless: exact OIDC issuer of the signer' },
  'certificate-oidc-issuer-regexp': { type: 'string', describe: 'keyless: OIDC issuer as a regular expression, unanchored as in cosign' },
  'insecure-skip-signature': { type: 'boolean', default: false, describe: 'accept an unsigned or unverifiable bundle (prints a warning)' },
} as const satisfies Record<string, Options>;

export const SOURCE_FLAGS = {
  'src-creds': {
    type: 'string', array: true,
    describe: 'REGISTRY=USER:PASS: credentials for that source registry only; repeatable. Plain USER:PASS only when the mirror lists name one source registry',
  },
  'src-username': { type: 'string', describe: 'user name for --src-password-stdin (one source registry, as plain --src-creds)' },
  'src-password-stdin': { type: 'boolean', default: false, describe: 'read the source password from stdin' },
  'src-cert-dir': { type: 'string', describe: 'certs.d-style directory (*.crt CAs, *.cert/*.key client pair) for source registries' },
  'src-tls-verify': { type: 'boolean', default: true, describe: 'verify source TLS; =false also allows plain HTTP' },
  'src-authfile': { type: 'string', alias: 'authfile', describe: 'source credentials, docker config.json / containers auth.json format (default: the containers-auth.json search)' },
} as const satisfies Record<string, Options>;

export const DEST_FLAGS = {
  'dest-creds': { type: 'string', describe: 'USER:PASS for the target registry (prefer --dest-password-stdin)' },
  'dest-username': { type: 'string', describe: 'user name for --dest-password-stdin' },
  'dest-password-stdin': { type: 'boolean', default: false, describe: 'read the target password from stdin' },
  'dest-cert-dir': { type: 'string', describe: 'certs.d-style directory: *.crt CAs, *.cert + *.key client certificate (mTLS)' },
  'dest-tls-verify': { type: 'boolean', default: true, describe: 'verify target TLS; =false also allows plain HTTP (loopback/testing)' },
  'dest-authfile': { type: 'string', alias: 'authfile', describe: 'target credentials, docker config.json / containers auth.json format (default: the containers-auth.json search)' },
} as const satisfies Record<string, Options>;

export const CONCURRENCY_FLAG = {
  concurrency: { type: 'number', default: 8, describe: 'parallel transfers' },
} as const satisfies Record<string, Options>;
