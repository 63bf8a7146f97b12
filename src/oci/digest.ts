import { createHash, type Hash } from 'node:crypto';
import { AirlockError } from '../errors.js';

/** A validated `algorithm:hex` digest. Only sha256 is accepted (OCI image spec, "Digests"). */
export type Digest = string & { readonly __brand: 'Digest' };

// https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const ANY_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && SHA256_RE.test(value);
}

export function parseDigest(value: string, where?: string): Digest {
  if (isDigest(value)) return value;
  const known = ANY_RE.test(value);
  throw new AirlockError(
    'DIGEST_INVALID',
    known && !value.startsWith('sha256:')
      ? `unsupported digest algorithm in "${truncate(value)}": only sha256 is supported`
      : `invalid digest "${truncate(value)}"`,
    { ...(where ? { where } : {}), hint: 'a digest looks like sha256: followed by 64 lowercase hex characters' },
  );
}

export function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function digestOf(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export function createDigester(): Hash {
  return createHash('sha256');
}

export function digestFromHex(hex: string): Digest {
  return parseDigest(`sha256:${hex}`);
}

/** `sha256:3f1c…9a` for human output. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  if (i < 0 || digest.length < i + 14) return digest;
  return `${digest.slice(0, i + 13)}`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
