import { AirlockError } from '../errors.js';
import { parseDescriptor, type Descriptor } from '../oci/index.js';

export const MAX_OCI_LAYOUT_BYTES = 4096;
export const MAX_INDEX_JSON_BYTES = 64 * 1024 * 1024;
export const MAX_SIGNATURE_BYTES = 16 * 1024 * 1024;

/** `oci-layout`: https://github.com/opencontainers/image-spec/blob/main/image-layout.md#oci-layout-file */
export function parseOciLayout(raw: Uint8Array, where: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch (err) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'oci-layout is not valid JSON', { where, cause: err });
  }
  const v = (doc as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (typeof v !== 'string' || !/^1\.\d+\.\d+$/.test(v)) {
    throw new AirlockError('BUNDLE_UNREADABLE', `oci-layout has an unsupported imageLayoutVersion ${JSON.stringify(v)?.slice(0, 40)}`, { where });
  }
}

export interface LayoutIndex {
  readonly manifests: readonly Descriptor[];
}

/** `index.json`: https://github.com/opencontainers/image-spec/blob/main/image-layout.md#indexjson-file */
export function parseLayoutIndex(raw: Uint8Array, where: string): LayoutIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch (err) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'index.json is not valid JSON', { where, cause: err });
  }
  const d = doc as { schemaVersion?: unknown; manifests?: unknown } | null;
  if (typeof d !== 'object' || d === null || d.schemaVersion !== 2 || !Array.isArray(d.manifests)) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'index.json is not an OCI image index (schemaVersion 2 with a manifests array)', { where });
  }
  try {
    return { manifests: d.manifests.map((m, i) => parseDescriptor(m, `${where} manifests[${i}]`)) };
  } catch (err) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'index.json has an invalid descriptor', { where, cause: err });
  }
}
