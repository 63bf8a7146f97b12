import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CallOptions } from '../content/index.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST, digestOf, type Descriptor,
} from '../oci/index.js';
import { RegistryError } from './errors.js';
import type { RegistryRepository } from './types.js';

/**
 * The smallest image config a registry that reads configs (Harbor, Quay) still takes for one, made
 * unique to this check by a label: importers running at once (volumes of one bundle on several
 * hosts) must not delete the config or the documents another one's check is using.
 */
function testConfig(nonce: string): Buffer {
  return Buffer.from(`{"architecture":"amd64","os":"linux","config":{"Labels":{"${PROBE_LABEL}":"${nonce}"}},"rootfs":{"type":"layers","diff_ids":[]}}`);
}
const PROBE_LABEL = 'org.airlock.media-check';

export interface ManifestTypeCheck {
  readonly accepted: readonly string[];
  /** Media types the registry refused, with its answer. */
  readonly refused: readonly { readonly mediaType: string; readonly error: RegistryError }[];
  /** Every test document (and the test config, when it was not there before) was deleted again. */
  readonly cleanedUp: boolean;
}

/**
 * Does the registry take manifests of these media types? For each, the smallest document of that
 * type is pushed by digest (no tag) and deleted again: an index with no entries (it needs no blob),
 * or an image manifest with no layers over a tiny config blob. A document or config already there is
 * left alone (and not deleted). What a registry answers for a type
 * it refuses: 415 MANIFEST_INVALID (zot without `http.compat: ["docker2s2"]` for Docker types,
 * pkg/api/routes.go UpdateManifest; Quay without FEATURE_GENERAL_OCI_SUPPORT for OCI types,
 * endpoints/v2/manifest.py "manifest schema version not supported"), or 400 on older registries.
 * Errors other than a refusal of the document (auth, network) are thrown.
 */
export async function checkManifestMediaTypes(repo: RegistryRepository, mediaTypes: readonly string[], opts: CallOptions = {}): Promise<ManifestTypeCheck> {
  const accepted: string[] = [];
  const refused: { mediaType: string; error: RegistryError }[] = [];
  const written: Descriptor[] = [];
  const nonce = randomBytes(8).toString('hex');
  const TEST_CONFIG = testConfig(nonce);
  const config: Descriptor = { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: digestOf(TEST_CONFIG), size: TEST_CONFIG.length };
  let haveConfig = false;
  for (const mediaType of mediaTypes) {
    const doc = testDocument(mediaType, config, nonce);
    if (!doc) continue;
    try {
      if (doc.needsConfig && !haveConfig) {
        if (!(await repo.exists(config, opts))) {
          await repo.push(config, Readable.from([TEST_CONFIG]), opts);
          written.push(config);
        }
        haveConfig = true;
      }
      const desc: Descriptor = { mediaType, digest: digestOf(doc.bytes), size: doc.bytes.length };
      // Already there (someone pushed the same tiny document): the type is taken, and what was
      // there is not ours to delete.
      if (!(await repo.exists(desc, opts))) {
        await repo.pushManifest(desc, doc.bytes, desc.digest, opts);
        written.push(desc);
      }
      accepted.push(mediaType);
    } catch (err) {
      if (opts.signal?.aborted || !isDocumentRefusal(err)) {
        await cleanUp(repo, written, opts);
        throw err;
      }
      refused.push({ mediaType, error: err });
    }
  }
  const cleanedUp = await cleanUp(repo, written, opts);
  return { accepted, refused, cleanedUp };
}

/** Manifests first (they refer to the config), then the config blob. */
async function cleanUp(repo: RegistryRepository, written: readonly Descriptor[], opts: CallOptions): Promise<boolean> {
  let all = true;
  for (const d of [...written].reverse()) {
    all = (await repo.delete(d, opts).catch(() => false)) && all;
  }
  return all;
}

function isDocumentRefusal(err: unknown): err is RegistryError {
  if (!(err instanceof RegistryError) || err.code === 'AUTH' || err.code === 'NETWORK' || err.code === 'TLS') return false;
  return err.status === 415 || err.status === 400 || err.status === 405 || err.status === 422 || err.has('MANIFEST_INVALID') || err.has('UNSUPPORTED');
}

function testDocument(mediaType: string, config: Descriptor, nonce: string): { bytes: Buffer; needsConfig: boolean } | undefined {
  const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));
  switch (mediaType) {
    case MEDIA_TYPE_OCI_INDEX:
      return { bytes: json({ schemaVersion: 2, mediaType, manifests: [], annotations: { [PROBE_LABEL]: nonce } }), needsConfig: false };
    // A Docker manifest list has no annotations: its test document is the same for everyone (a
    // check running at the same time may find it there, or see it deleted under it: still taken).
    case MEDIA_TYPE_DOCKER_MANIFEST_LIST:
      return { bytes: json({ schemaVersion: 2, mediaType, manifests: [] }), needsConfig: false };
    case MEDIA_TYPE_OCI_MANIFEST:
      return { bytes: json({ schemaVersion: 2, mediaType, config, layers: [] }), needsConfig: true };
    case MEDIA_TYPE_DOCKER_MANIFEST:
      return { bytes: json({ schemaVersion: 2, mediaType, config: { ...config, mediaType: MEDIA_TYPE_DOCKER_CONFIG }, layers: [] }), needsConfig: true };
    default:
      return undefined;
  }
}
