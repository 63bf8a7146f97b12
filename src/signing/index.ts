// The trust layer: key generation and loading, the signature on airlock.json, offline
// verification (key or keyless), and vendor signature checks. The only import surface of signing/.
export {
  type KeyType,
  KEY_TYPES,
  type SigningKey,
  type VerificationKey,
  type KeyPairPem,
  type GenerateKeyPairOptions,
  generateKeyPair,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parsePublicKey,
  toVerificationKey,
} from './keys.js';
export { type WriteKeyPairOptions, type KeyPairPaths, writeKeyPair } from './key-files.js';
export { signDetached, verifyDetached } from './detached.js';
export { PASSPHRASE_ENV, type PassphraseIo, readPassphrase } from './passphrase.js';
export { type KeylessPolicy, type SignatureMethod } from './sigstore.js';
export {
  DEFAULT_FULCIO_URL,
  DEFAULT_REKOR_URL,
  IDENTITY_TOKEN_ENV,
  type KeylessSigningOptions,
  readIdentityToken,
  assertAmbientIdentityToken,
} from './keyless.js';
export {
  type SignBundleManifestOptions,
  type SignaturePolicy,
  type SignatureStatus,
  type VerifyBundleManifestOptions,
  signBundleManifest,
  checkKeylessSignature,
  verifyBundleManifest,
  inspectSignature,
} from './manifest.js';
export { AIRLOCK_PREDICATE_TYPE, type AirlockPredicate } from './statement.js';
export {
  RECEIPT_PREDICATE_TYPE,
  type ReceiptPredicate,
  type SignReceiptOptions,
  type VerifyReceiptOptions,
  type VerifiedReceipt,
  signReceipt,
  verifyReceipt,
} from './receipt.js';
export { receiptSignaturePath, writeReceiptSignature, removeReceiptSignature, checkReceiptSignature } from './receipt-files.js';
export {
  type CosignSimpleSigningOptions,
  type UpstreamBundlePolicy,
  type SigstoreBundleForDigestOptions,
  type UpstreamSigner,
  verifyCosignSimpleSigning,
  verifySigstoreBundleForDigest,
} from './upstream.js';
export {
  type UpstreamTrustOverride,
  type UpstreamVerifyEntries,
  type VerifyPolicy,
  type ReverifiedSigner,
  verifyUpstreamSignatures,
  reverifyArtifactSignature,
  reverifyUpstream,
} from './upstream-check.js';
export { type BlobSigner, type VerifyCosignBlobOptions, type VerifySigstoreBlobOptions, MAX_IN_MEMORY_SIGNED_FILE, verifyCosignBlob, verifySigstoreBlob } from './blob.js';
