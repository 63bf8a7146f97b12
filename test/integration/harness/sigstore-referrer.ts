/**
 * Vendor signatures as cosign v3 stores them: a Sigstore bundle v0.3 (DSSE over an in-toto statement
 * whose subject is the image) in an OCI 1.1 referrer manifest with artifactType
 * `application/vnd.dev.sigstore.bundle.v0.3+json`, pushed to a real registry. Distribution 2.8 has
 * no referrers API, so the referrer is also listed in the tag-schema fallback index
 * (`sha256-<hex>`), as cosign does against such registries. Also: an SBOM or a provenance
 * attestation referrer, for the policy tests.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import sigstoreSign from '@sigstore/sign';
import {
  MEDIA_TYPE_IN_TOTO, MEDIA_TYPE_OCI_EMPTY, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_SIGSTORE_BUNDLE_V03, type Digest,
} from '../../../src/oci/index.js';
import { endpointOf, pushBlob, pushManifest } from './oci-http.js';
import type { TestRegistry } from './registry.js';
import type { SigstoreMock } from './sigstore-services.js';
import { getManifest } from './validate.js';

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

export interface Subject {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

function statementFor(subject: Subject, predicateType: string): Buffer {
  return Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'image', digest: { sha256: subject.digest.slice('sha256:'.length) } }],
    predicateType,
    predicate: {},
  }));
}

/** A keyless Sigstore bundle from the mock Fulcio/Rekor for `identity`/`issuer`, over an in-toto statement naming `subject`. */
export async function signKeylessFor(mock: SigstoreMock, subject: Subject, who: { sub: string; iss: string }, predicateType = COSIGN_SIGN_PREDICATE): Promise<Buffer> {
  const { DSSEBundleBuilder, FulcioSigner, RekorWitness } = sigstoreSign;
  const token = mock.token(who);
  const signer = new FulcioSigner({ identityProvider: { getToken: async () => token }, fulcioBaseURL: mock.url });
  const bundle = await new DSSEBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: mock.url, entryType: 'intoto' })] })
    .create({ data: statementFor(subject, predicateType), type: MEDIA_TYPE_IN_TOTO });
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}

/** Push an OCI 1.1 referrer of `subject` holding one layer, and list it in the fallback index. */
export async function pushReferrer(
  reg: TestRegistry, repository: string, subject: Subject,
  layer: { readonly mediaType: string; readonly bytes: Buffer; readonly artifactType: string; readonly annotations?: Record<string, string> },
): Promise<Subject> {
  const ep = endpointOf(reg);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-referrer-'));
  try {
    const layerPath = join(dir, 'layer');
    await writeFile(layerPath, layer.bytes);
    const layerDigest = sha256(layer.bytes);
    await pushBlob(ep, repository, layerDigest, layerPath);
    const empty = Buffer.from('{}');
    await writeFile(join(dir, 'empty'), empty);
    await pushBlob(ep, repository, sha256(empty), join(dir, 'empty'));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, artifactType: layer.artifactType,
      config: { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: sha256(empty), size: empty.length },
      layers: [{ mediaType: layer.mediaType, digest: layerDigest, size: layer.bytes.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      ...(layer.annotations ? { annotations: layer.annotations } : {}),
    }));
    const desc: Subject = { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: sha256(manifest), size: manifest.length };
    await pushManifest(ep, repository, desc.digest, MEDIA_TYPE_OCI_MANIFEST, manifest);
    const tag = `sha256-${subject.digest.slice('sha256:'.length)}`;
    const existing = await getManifest(ep, repository, tag);
    const list = existing ? (JSON.parse(existing.bytes.toString('utf8')) as { manifests: unknown[] }).manifests : [];
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX,
      manifests: [...list, { ...desc, artifactType: layer.artifactType, ...(layer.annotations ? { annotations: layer.annotations } : {}) }],
    }));
    await pushManifest(ep, repository, tag, MEDIA_TYPE_OCI_INDEX, index);
    return desc;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Sigstore bundle referrer as cosign v3 writes it (`cosign sign --new-bundle-format`, `cosign attest`). */
export function pushSigstoreBundleReferrer(reg: TestRegistry, repository: string, subject: Subject, bundle: Buffer, predicateType = COSIGN_SIGN_PREDICATE): Promise<Subject> {
  return pushReferrer(reg, repository, subject, {
    mediaType: MEDIA_TYPE_SIGSTORE_BUNDLE_V03, bytes: bundle, artifactType: MEDIA_TYPE_SIGSTORE_BUNDLE_V03,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType },
  });
}
