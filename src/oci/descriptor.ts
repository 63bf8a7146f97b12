import { AirlockError } from '../errors.js';
import { isDigest, type Digest } from './digest.js';
import type { Platform } from './platform.js';

/** OCI content descriptor: https://github.com/opencontainers/image-spec/blob/main/descriptor.md */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** Validate an untrusted descriptor-shaped value. `where` names it in errors. */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(where, 'is not an object');
  }
  const v = value as Record<string, unknown>;
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0 || v.mediaType.length > 255) {
    throw invalid(where, 'has no valid mediaType');
  }
  if (!isDigest(v.digest)) throw invalid(where, `has an invalid digest ${JSON.stringify(v.digest)?.slice(0, 80)}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw invalid(where, 'has an invalid size');
  }
  const desc: { -readonly [K in keyof Descriptor]: Descriptor[K] } = {
    mediaType: v.mediaType,
    digest: v.digest,
    size: v.size,
  };
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) throw invalid(where, 'has invalid urls');
    desc.urls = v.urls as string[];
  }
  if (v.annotations !== undefined) desc.annotations = parseStringMap(v.annotations, where);
  if (v.artifactType !== undefined) {
    if (typeof v.artifactType !== 'string') throw invalid(where, 'has an invalid artifactType');
    desc.artifactType = v.artifactType;
  }
  if (v.platform !== undefined) {
    const p = v.platform as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw invalid(where, 'has an invalid platform');
    }
    desc.platform = {
      os: p.os,
      architecture: p.architecture,
      ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
      ...(typeof p['os.version'] === 'string' ? { 'os.version': p['os.version'] } : {}),
    };
  }
  return desc;
}

export function parseStringMap(value: unknown, where: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, 'has invalid annotations');
  for (const [, v] of Object.entries(value)) if (typeof v !== 'string') throw invalid(where, 'has a non-string annotation');
  return value as Record<string, string>;
}

/** Only the fields that identify content: used when writing descriptors we create ourselves. */
export function descriptorKey(d: Pick<Descriptor, 'digest'>): Digest {
  return d.digest;
}

function invalid(where: string, what: string): AirlockError {
  return new AirlockError('MANIFEST_INVALID', `descriptor ${what}`, { where });
}
