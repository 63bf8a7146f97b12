import { AirlockError } from '../errors.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

/** `linux/arm64/v8` → Platform. */
export function parsePlatform(text: string, where?: string): Platform {
  const parts = text.trim().split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant) ||
      !parts.every((p) => /^[a-z0-9._-]+$/i.test(p))) {
    throw new AirlockError('USAGE', `invalid platform "${text}"`, {
      ...(where ? { where } : {}),
      hint: 'write a platform as OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm/v7',
    });
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/**
 * Does `candidate` (from an index) satisfy `wanted` (from the user)? A wanted platform without a
 * variant matches any variant; arm64 without a variant equals arm64/v8, as containerd's
 * platforms package normalises it.
 */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  if (!wanted.variant) return true;
  const norm = (p: Platform): string | undefined =>
    p.architecture === 'arm64' && (p.variant === undefined || p.variant === 'v8') ? 'v8' : p.variant;
  return norm(wanted) === norm(candidate);
}
