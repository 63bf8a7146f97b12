import { AirlockError } from '../errors.js';
import { parseDescriptor, parseStringMap, type Descriptor } from './descriptor.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  isIndexMediaType,
  isSchema1MediaType,
} from './media-types.js';

/** Largest manifest we read into memory (the distribution spec suggests registries cap at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest = ImageManifest | ImageIndex;

/**
 * Parse raw manifest bytes for reading only; the bytes themselves are what gets stored and pushed.
 * `mediaType` is the descriptor's (or Content-Type's) media type; the document's own `mediaType`
 * wins when present, and both must agree when both are set.
 */
export function parseManifest(raw: Uint8Array, mediaType: string | undefined, where = 'manifest'): Manifest {
  if (raw.byteLength > MAX_MANIFEST_BYTES) {
    throw new AirlockError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, { where });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch (err) {
    throw new AirlockError('MANIFEST_INVALID', 'manifest is not valid JSON', { where, cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AirlockError('MANIFEST_INVALID', 'manifest is not a JSON object', { where });
  }
  const d = doc as Record<string, unknown>;
  const docType = typeof d.mediaType === 'string' ? d.mediaType : undefined;
  if (d.schemaVersion === 1 || isSchema1MediaType(docType) || isSchema1MediaType(mediaType)) {
    throw new AirlockError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported', {
      where,
      hint: 'schema 1 is deprecated and cannot be mirrored with digests intact; ask the vendor for a schema 2 or OCI image',
    });
  }
  if (d.schemaVersion !== 2) {
    throw new AirlockError('MANIFEST_INVALID', `unsupported schemaVersion ${JSON.stringify(d.schemaVersion)}`, { where });
  }
  if (docType && mediaType && docType !== mediaType && !isGenericJson(mediaType)) {
    throw new AirlockError('MANIFEST_INVALID', `media type mismatch: descriptor says ${mediaType}, manifest says ${docType}`, { where });
  }
  const mt = docType ?? (mediaType && !isGenericJson(mediaType) ? mediaType : undefined) ?? guess(d);
  const common = {
    ...(d.subject !== undefined ? { subject: parseDescriptor(d.subject, `${where} subject`) } : {}),
    ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: parseStringMap(d.annotations, where) } : {}),
  };
  if (isIndexMediaType(mt)) {
    if (!Array.isArray(d.manifests)) throw new AirlockError('MANIFEST_INVALID', 'index has no manifests array', { where });
    return {
      kind: 'index',
      mediaType: mt,
      manifests: d.manifests.map((m, i) => parseDescriptor(m, `${where} manifests[${i}]`)),
      ...common,
    };
  }
  if (mt === MEDIA_TYPE_OCI_MANIFEST || mt === MEDIA_TYPE_DOCKER_MANIFEST) {
    if (!Array.isArray(d.layers)) throw new AirlockError('MANIFEST_INVALID', 'manifest has no layers array', { where });
    return {
      kind: 'manifest',
      mediaType: mt,
      config: parseDescriptor(d.config, `${where} config`),
      layers: d.layers.map((l, i) => parseDescriptor(l, `${where} layers[${i}]`)),
      ...common,
    };
  }
  throw new AirlockError('MANIFEST_INVALID', `unsupported manifest media type ${JSON.stringify(mt)}`, { where });
}

/** Children of a manifest in the order they must exist before it: config, layers / child manifests. */
export function successors(m: Manifest): Descriptor[] {
  return m.kind === 'index' ? [...m.manifests] : [m.config, ...m.layers];
}

function isGenericJson(mt: string): boolean {
  return mt === 'application/json' || mt === 'text/plain' || mt === 'application/octet-stream';
}

function guess(d: Record<string, unknown>): string {
  if (Array.isArray(d.manifests)) return MEDIA_TYPE_OCI_INDEX;
  if (d.config !== undefined) return MEDIA_TYPE_OCI_MANIFEST;
  return 'unknown';
}
