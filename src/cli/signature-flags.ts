import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadPublicKey, type SignaturePolicy } from '../signing/index.js';

/** `--verify-key`, the keyless flags and `--insecure-skip-signature` → a SignaturePolicy. */
export async function signaturePolicyFromArgs(args: Record<string, unknown>, logger: Logger, opts: { reportOnly?: boolean } = {}): Promise<SignaturePolicy> {
  const keyPaths = (args['verify-key'] as string[] | undefined) ?? [];
  const keys = await Promise.all(keyPaths.map((p) => loadPublicKey(p)));
  const trustedRoot = args['trusted-root'] as string | undefined;
  const identity = args['certificate-identity'] as string | undefined;
  const identityRegexp = args['certificate-identity-regexp'] as string | undefined;
  const issuer = args['certificate-oidc-issuer'] as string | undefined;
  const issuerRegexp = args['certificate-oidc-issuer-regexp'] as string | undefined;
  if ((identity || identityRegexp || issuer || issuerRegexp) && !trustedRoot) {
    throw new AirlockError('USAGE', 'keyless verification needs --trusted-root', { hint: 'pass the Sigstore trusted_root.json; verification never goes to the network' });
  }
  const insecure = Boolean(args['insecure-skip-signature']);
  if (insecure && !opts.reportOnly) {
    logger.warn('--insecure-skip-signature: an unsigned or unverifiable bundle will be accepted; anyone who could touch the drive could have changed it');
  }
  return {
    keys,
    ...(trustedRoot ? { keyless: { trustedRootPath: trustedRoot, ...(identity ? { identity } : {}), ...(identityRegexp ? { identityRegexp } : {}), ...(issuer ? { issuer } : {}), ...(issuerRegexp ? { issuerRegexp } : {}) } } : {}),
    insecureSkipSignature: insecure || Boolean(opts.reportOnly),
  };
}
