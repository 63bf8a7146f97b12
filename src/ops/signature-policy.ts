import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadPublicKey, type SignaturePolicy } from '../signing/index.js';

/** How a bundle's signature is to be checked, as the flags give it (file paths, not yet read). */
export interface SignaturePolicyInput {
  /** `--verify-key`: public key files. */
  readonly keyPaths: readonly string[];
  /** `--trusted-root`: a Sigstore trusted_root.json, for keyless verification. */
  readonly trustedRoot?: string | undefined;
  readonly identity?: string | undefined;
  readonly identityRegexp?: string | undefined;
  readonly issuer?: string | undefined;
  readonly issuerRegexp?: string | undefined;
  /** `--insecure-skip-signature`. */
  readonly insecureSkipSignature: boolean;
  /** Only report the signature (`bundle inspect`): nothing is refused, nothing warned. */
  readonly reportOnly?: boolean;
  readonly logger: Logger;
}

/** Read the keys and check the keyless options: the SignaturePolicy verify, import, inspect and serve take. */
export async function loadSignaturePolicy(i: SignaturePolicyInput): Promise<SignaturePolicy> {
  const keys = await Promise.all(i.keyPaths.map((p) => loadPublicKey(p)));
  const { trustedRoot, identity, identityRegexp, issuer, issuerRegexp } = i;
  if ((identity || identityRegexp || issuer || issuerRegexp) && !trustedRoot) {
    throw new AirlockError('USAGE', 'keyless verification needs --trusted-root', { hint: 'pass the Sigstore trusted_root.json; verification never goes to the network' });
  }
  if (i.insecureSkipSignature && !i.reportOnly) {
    i.logger.warn('--insecure-skip-signature: an unsigned or unverifiable bundle will be accepted; anyone who could touch the drive could have changed it');
  }
  return {
    keys,
    ...(trustedRoot ? { keyless: { trustedRootPath: trustedRoot, ...(identity ? { identity } : {}), ...(identityRegexp ? { identityRegexp } : {}), ...(issuer ? { issuer } : {}), ...(issuerRegexp ? { issuerRegexp } : {}) } } : {}),
    insecureSkipSignature: i.insecureSkipSignature || Boolean(i.reportOnly),
  };
}
