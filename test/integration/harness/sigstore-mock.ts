/**
 * Signing release files (blobs) for tests, as `cosign sign-blob --bundle` does: keyless against
 * the private Sigstore instance of sigstore-services.ts (@sigstore/mock's Fulcio, Rekor and TSA on
 * 127.0.0.1) through @sigstore/sign's real FulcioSigner, RekorWitness and TSAWitness; or with a key
 * and no transparency log.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness } from '@sigstore/sign';
import { startSigstoreMock } from './sigstore-services.js';

export interface MockSigstore {
  /** trusted_root.json text for this instance. */
  readonly trustedRoot: string;
  /** A Sigstore bundle (v0.3 JSON text) over `data`, by a certificate for `identity` from `issuer`. */
  sign(data: Buffer, identity: string, issuer: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A key-signed Sigstore bundle over `data` (what `cosign sign-blob --key K --bundle B` writes
 * with no transparency log): a message signature by the PEM private key, no witnesses.
 */
export async function signBlobWithKey(data: Buffer, privateKeyPem: string, publicKeyPem: string): Promise<string> {
  const signer = {
    sign: (bytes: Buffer) => Promise.resolve({
      signature: cryptoSign('sha256', bytes, createPrivateKey(privateKeyPem)),
      key: { $case: 'publicKey' as const, publicKey: publicKeyPem, hint: '' },
    }),
  };
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data });
  return JSON.stringify(bundleToJSON(bundle));
}

export async function startMockSigstore(): Promise<MockSigstore> {
  const mock = await startSigstoreMock();
  return {
    trustedRoot: JSON.stringify(mock.trustedRoot, null, 2),
    async sign(data, identity, issuer) {
      // The certificate's identity is the token's subject (the mock Fulcio reads the claims unchecked).
      const token = mock.token({ sub: identity, iss: issuer });
      const builder = new MessageSignatureBundleBuilder({
        signer: new FulcioSigner({ fulcioBaseURL: mock.url, identityProvider: { getToken: () => Promise.resolve(token) } }),
        witnesses: [new RekorWitness({ rekorBaseURL: mock.url }), new TSAWitness({ tsaBaseURL: mock.url })],
      });
      return JSON.stringify(bundleToJSON(await builder.create({ data })));
    },
    stop: () => mock.stop(),
  };
}
