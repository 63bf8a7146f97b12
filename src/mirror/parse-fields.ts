import { isAbsolute, normalize, resolve } from 'node:path';
import { formatPlatform, parsePlatform, type Platform } from '../oci/index.js';
import { parseChartReference, parseReference, type Reference } from '../reference/index.js';
import type { VerifyPolicy } from './types.js';
import type { Field, YamlReader } from './yaml-reader.js';

/**
 * The field readers that the mirror list's parser (parse.ts) and its source entries
 * (parse-sources.ts) share: references, platforms, paths and signature policies. Apart from
 * parse.ts so that the two files do not import each other.
 */

const VERIFY_KEYS = ['key', 'keyless'] as const;
const KEYLESS_KEYS = ['issuer', 'issuerRegexp', 'identity', 'identityRegexp', 'trustedRoot'] as const;

export interface Ctx {
  readonly r: YamlReader;
  /** Directory of the mirror file: relative paths resolve against it. */
  readonly baseDir: string;
}

export function readRef(ctx: Ctx, text: string, where: string): Reference | undefined {
  return adopted(ctx, where, `invalid image reference "${text}"`, () => parseReference(text, { where }));
}

/** A chart's `ref:`, the text after `oci://` (parseChartReference: its first component is the registry). */
export function readChartRef(ctx: Ctx, afterScheme: string, where: string): Reference | undefined {
  return adopted(ctx, where, `invalid chart reference "oci://${afterScheme}"`, () => parseChartReference(afterScheme, { where }));
}

/** What `parse` returns, or undefined with its error kept as one problem at `where`. */
function adopted(ctx: Ctx, where: string, fallbackMessage: string, parse: () => Reference): Reference | undefined {
  try {
    return parse();
  } catch (err) {
    ctx.r.adopt(err, where, fallbackMessage);
    return undefined;
  }
}

export function readPlatforms(ctx: Ctx, field: Field | undefined): readonly Platform[] | undefined {
  if (!field) return undefined;
  const { r } = ctx;
  const items = r.seq(field.value, '`platforms`', field.where);
  if (!items) return undefined;
  if (items.length === 0) {
    r.problem(r.whereOf(field.value, field.where), '`platforms` is an empty list', 'omit `platforms` for every platform');
    return undefined;
  }
  const out = new Map<string, Platform>();
  let ok = true;
  for (const item of items) {
    const where = r.whereOf(item, field.where);
    const text = r.string(item, 'a platform', where);
    if (text === undefined) {
      ok = false;
      continue;
    }
    try {
      const p = parsePlatform(text, where);
      out.set(formatPlatform(p), p);
    } catch (err) {
      r.adopt(err, where, `invalid platform "${text}"`);
      ok = false;
    }
  }
  return ok ? [...out.values()] : undefined;
}

export function readVerify(ctx: Ctx, field: Field): VerifyPolicy | undefined {
  const { r } = ctx;
  const m = r.map(field.value, '`verify`', VERIFY_KEYS, field.where);
  if (!m) return undefined;
  const keyField = m.get('key');
  const keylessField = m.get('keyless');
  if (keyField && keylessField) {
    r.problem(keylessField.where, '`verify` has either `key` or `keyless`, not both', 'keep the policy the image is really signed with');
    return undefined;
  }
  if (keyField) {
    const keyPath = readPath(ctx, keyField, '`key`');
    return keyPath === undefined ? undefined : { kind: 'key', keyPath };
  }
  if (!keylessField) {
    if (m.lacks('key') && m.lacks('keyless')) r.problem(r.whereOf(field.value, field.where), '`verify` needs `key` or `keyless`', 'verify: { key: ./cosign.pub } or verify: { keyless: { issuer: URL, identity: SIGNER } }');
    return undefined;
  }
  return readKeyless(ctx, keylessField);
}

/** `keyless: { issuer, identity | identityRegexp, trustedRoot }`. */
export function readKeyless(ctx: Ctx, keylessField: Field): Extract<VerifyPolicy, { kind: 'keyless' }> | undefined {
  const { r } = ctx;
  const k = r.map(keylessField.value, '`keyless`', KEYLESS_KEYS, keylessField.where);
  if (!k) return undefined;
  let ok = true;
  const issuerField = k.get('issuer');
  const issuerRegexpField = k.get('issuerRegexp');
  let issuer: string | undefined;
  let issuerRegexp: string | undefined;
  if (issuerField && issuerRegexpField) {
    r.problem(issuerRegexpField.where, '`keyless` has either `issuer` or `issuerRegexp`, not both', 'issuer matches exactly; issuerRegexp is an unanchored pattern, as cosign\'s --certificate-oidc-issuer-regexp');
    ok = false;
  } else if (issuerRegexpField) {
    issuerRegexp = r.string(issuerRegexpField.value, '`issuerRegexp`', issuerRegexpField.where);
    if (issuerRegexp !== undefined) {
      try {
        new RegExp(issuerRegexp);
      } catch (err) {
        r.problem(r.whereOf(issuerRegexpField.value, issuerRegexpField.where), `\`${issuerRegexp}\` is not a valid regular expression: ${(err as Error).message}`, 'JavaScript RegExp syntax; unanchored as cosign\'s: anchor it with ^...$', err);
        ok = false;
      }
    }
  } else if (!issuerField) {
    if (k.lacks('issuer') && k.lacks('issuerRegexp')) r.problem(r.whereOf(keylessField.value, keylessField.where), '`keyless` needs `issuer` (the OIDC issuer URL) or `issuerRegexp`', 'e.g. issuer: https://token.actions.githubusercontent.com');
    ok = false;
  } else {
    issuer = r.string(issuerField.value, '`issuer`', issuerField.where);
    if (issuer !== undefined && !isHttpUrl(issuer)) {
      r.problem(r.whereOf(issuerField.value, issuerField.where), `\`issuer: ${issuer}\` is not an http(s) URL`, 'e.g. https://token.actions.githubusercontent.com');
      ok = false;
    }
  }
  const identityField = k.get('identity');
  const regexpField = k.get('identityRegexp');
  let identity: string | undefined;
  let identityRegexp: string | undefined;
  if (identityField && regexpField) {
    r.problem(regexpField.where, '`keyless` has either `identity` or `identityRegexp`, not both', 'identity matches exactly; identityRegexp is an unanchored pattern, as cosign\'s (anchor it with ^...$)');
    ok = false;
  } else if (!identityField && !regexpField) {
    // Any identity from the issuer would accept anyone's signature made through that issuer.
    if (k.lacks('identity') && k.lacks('identityRegexp')) r.problem(r.whereOf(keylessField.value, keylessField.where), '`keyless` needs `identity` or `identityRegexp`', 'name the signer: identity: https://github.com/ORG/REPO/.github/workflows/release.yml@refs/tags/v1.0.0');
    ok = false;
  } else if (identityField) {
    identity = r.string(identityField.value, '`identity`', identityField.where);
  } else if (regexpField) {
    identityRegexp = r.string(regexpField.value, '`identityRegexp`', regexpField.where);
    if (identityRegexp !== undefined) {
      try {
        new RegExp(identityRegexp);
      } catch (err) {
        r.problem(r.whereOf(regexpField.value, regexpField.where), `\`${identityRegexp}\` is not a valid regular expression: ${(err as Error).message}`, 'JavaScript RegExp syntax; anchor it with ^...$', err);
        ok = false;
      }
    }
  }
  const trustedRootField = k.get('trustedRoot');
  const trustedRoot = trustedRootField ? readPath(ctx, trustedRootField, '`trustedRoot`') : undefined;
  if (!ok || (issuer === undefined && issuerRegexp === undefined) || (identity === undefined && identityRegexp === undefined)) return undefined;
  if (trustedRootField && trustedRoot === undefined) return undefined;
  return {
    kind: 'keyless',
    ...(issuer !== undefined ? { issuer } : {}),
    ...(issuerRegexp !== undefined ? { issuerRegexp } : {}),
    ...(identity !== undefined ? { identity } : {}),
    ...(identityRegexp !== undefined ? { identityRegexp } : {}),
    ...(trustedRoot !== undefined ? { trustedRoot } : {}),
  };
}

export function readPath(ctx: Ctx, field: Field | undefined, what: string): string | undefined {
  if (!field) return undefined;
  const text = ctx.r.string(field.value, what, field.where);
  if (text === undefined) return undefined;
  if (text.includes('\0')) {
    ctx.r.problem(ctx.r.whereOf(field.value, field.where), `${what} contains a NUL character`, 'write the path as plain text');
    return undefined;
  }
  return isAbsolute(text) ? normalize(text) : resolve(ctx.baseDir, text);
}

function isHttpUrl(text: string): boolean {
  return httpUrl(text) !== undefined;
}

export function httpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}
