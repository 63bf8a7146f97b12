import type { Logger } from '../log.js';
import { loadSignaturePolicy, type SignaturePolicy } from '../ops/index.js';

/** `--verify-key`, the keyless flags and `--insecure-skip-signature` → a SignaturePolicy (ops reads the keys). */
export async function signaturePolicyFromArgs(args: Record<string, unknown>, logger: Logger, opts: { reportOnly?: boolean } = {}): Promise<SignaturePolicy> {
  return loadSignaturePolicy({
    keyPaths: (args['verify-key'] as string[] | undefined) ?? [],
    trustedRoot: args['trusted-root'] as string | undefined,
    identity: args['certificate-identity'] as string | undefined,
    identityRegexp: args['certificate-identity-regexp'] as string | undefined,
    issuer: args['certificate-oidc-issuer'] as string | undefined,
    issuerRegexp: args['certificate-oidc-issuer-regexp'] as string | undefined,
    insecureSkipSignature: Boolean(args['insecure-skip-signature']),
    ...(opts.reportOnly !== undefined ? { reportOnly: opts.reportOnly } : {}),
    logger,
  });
}
