import { isMap, isScalar } from 'yaml';
import { isValidTag, type Reference } from '../reference/index.js';
import { readPath, readPlatforms, readRef, readVerify, type Ctx } from './parse-fields.js';
import { checkSelector } from './select.js';
import type { ImageArchiveEntry, ImageFromFileEntry, MirrorDefaults } from './types.js';
import type { Field } from './yaml-reader.js';

const ARCHIVE_KEYS = ['archive', 'ref', 'to', 'tag', 'platforms', 'sha256'] as const;
const LAYOUT_KEYS = ['layout', 'ref', 'to', 'tag', 'platforms'] as const;
const FROM_FILE_KEYS = ['fromFile', 'select', 'tag', 'platforms', 'referrers', 'verify'] as const;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** Which kind of image entry a mapping is, by the key that names its source (`archive`, `layout`, `fromFile`). */
export function sourceKeyOf(node: unknown): 'archive' | 'layout' | 'fromFile' | undefined {
  if (!isMap(node)) return undefined;
  const keys = new Set(node.items.map((p) => (isScalar(p.key) ? p.key.value : undefined)));
  if (keys.has('fromFile')) return 'fromFile';
  if (keys.has('archive')) return 'archive';
  if (keys.has('layout')) return 'layout';
  return undefined;
}

/**
 * `- archive: ./x.tar[.gz]` or `- layout: ./dir`, with optional `ref` (one image by its name in
 * the archive), `to` (target repository), `tag` (target tag), `platforms`, and for archives
 * `sha256` (the file's published checksum). Whether the names are there is only known once the
 * archive is read (at export), which reports a missing one at this entry's position.
 */
export function readArchiveImage(ctx: Ctx, node: unknown, where: string, kind: 'archive' | 'layout', defaults: MirrorDefaults): ImageArchiveEntry | undefined {
  const { r } = ctx;
  const m = r.map(node, kind === 'archive' ? 'an archive entry' : 'a layout entry', kind === 'archive' ? ARCHIVE_KEYS : LAYOUT_KEYS, where);
  if (!m) return undefined;
  let ok = true;
  // `layout` beside `archive` is an unknown key of an archive entry: reported as such by r.map.
  const path = readPath(ctx, m.get(kind), `\`${kind}\``);
  if (path === undefined) ok = false;

  const refField = m.get('ref');
  const ref = refField ? r.string(refField.value, '`ref`', refField.where) : undefined;
  if (refField && ref === undefined) ok = false;

  const to = readTo(ctx, m.get('to'));
  if (m.get('to') && !to) ok = false;
  const tag = readTargetTag(ctx, m.get('tag'));
  if (m.get('tag') && tag === undefined) ok = false;

  let sha256: string | undefined;
  const shaField = m.get('sha256');
  if (shaField) {
    const hex = r.string(shaField.value, '`sha256`', shaField.where);
    if (hex !== undefined && !SHA256_HEX.test(hex)) {
      r.problem(r.whereOf(shaField.value, shaField.where), '`sha256` must be 64 hex characters', hex.startsWith('sha256:') ? 'drop the sha256: prefix' : 'the output of sha256sum FILE');
      ok = false;
    } else if (hex !== undefined) sha256 = hex.toLowerCase();
    else ok = false;
  }
  const platformsField = m.get('platforms');
  const platforms = platformsField ? readPlatforms(ctx, platformsField) : defaults.platforms;
  if (platformsField && !platforms) ok = false;

  if (!ok || path === undefined) return undefined;
  return {
    kind: 'archive', source: kind, path, where, referrers: false,
    ...(ref !== undefined ? { ref } : {}), ...(to ? { to } : {}), ...(tag !== undefined ? { tag } : {}),
    ...(sha256 ? { sha256 } : {}), ...(platforms ? { platforms } : {}),
  };
}

/**
 * `- fromFile: ./release-manifest.json` with `select:` (an RFC 9535 JSONPath query, checked here)
 * and an optional `tag:` for the digest-only references it yields. The file is read by
 * readMirrorLists (this parser does no I/O).
 */
export function readFromFileImage(ctx: Ctx, node: unknown, where: string, defaults: MirrorDefaults): ImageFromFileEntry | undefined {
  const { r } = ctx;
  const m = r.map(node, 'a fromFile entry', FROM_FILE_KEYS, where);
  if (!m) return undefined;
  let ok = true;
  const path = readPath(ctx, m.get('fromFile'), '`fromFile`');
  if (path === undefined) ok = false;

  const selectField = m.get('select');
  let selector: string | undefined;
  let selectorWhere = where;
  if (!selectField) {
    if (m.lacks('select')) {
      r.problem(where, 'a `fromFile` entry needs `select`: a JSONPath query that yields the image references', 'e.g. select: "$.images[*].image" (RFC 9535 JSONPath)');
    }
    ok = false;
  } else {
    selectorWhere = r.whereOf(selectField.value, selectField.where);
    selector = r.string(selectField.value, '`select`', selectField.where);
    if (selector !== undefined) {
      const why = checkSelector(selector);
      if (why !== undefined) {
        r.problem(selectorWhere, `\`select: ${selector}\` is not a JSONPath query: ${why}`, 'RFC 9535 JSONPath, starting at $: e.g. "$.images[*].image" or "$..[?@.digest].ref"');
        selector = undefined;
      }
    }
    if (selector === undefined) ok = false;
  }
  const tag = readTargetTag(ctx, m.get('tag'));
  if (m.get('tag') && tag === undefined) ok = false;
  const platformsField = m.get('platforms');
  const platforms = platformsField ? readPlatforms(ctx, platformsField) : defaults.platforms;
  if (platformsField && !platforms) ok = false;
  const referrersField = m.get('referrers');
  const referrers = referrersField ? r.boolean(referrersField.value, '`referrers`', referrersField.where) : defaults.referrers;
  if (referrers === undefined) ok = false;
  const verifyField = m.get('verify');
  const verify = verifyField ? readVerify(ctx, verifyField) : undefined;
  if (verifyField && !verify) ok = false;

  if (!ok || path === undefined || selector === undefined || referrers === undefined) return undefined;
  return {
    kind: 'fromFile', path, selector, selectorWhere, where, referrers,
    ...(tag !== undefined ? { tag } : {}), ...(platforms ? { platforms } : {}), ...(verify ? { verify } : {}),
  };
}

/** `tag:`: a valid tag. */
export function readTargetTag(ctx: Ctx, field: Field | undefined): string | undefined {
  if (!field) return undefined;
  const tag = ctx.r.string(field.value, '`tag`', field.where);
  if (tag === undefined) return undefined;
  if (!isValidTag(tag)) {
    ctx.r.problem(ctx.r.whereOf(field.value, field.where), `"${tag}" is not a valid tag`, 'a tag has up to 128 letters, digits, _ . and -, and does not start with . or -');
    return undefined;
  }
  return tag;
}

/** `to:`: a repository name, read as `docker tag` reads one (`vendor/app` is docker.io/vendor/app), without tag or digest. */
function readTo(ctx: Ctx, field: Field | undefined): Reference | undefined {
  if (!field) return undefined;
  const { r } = ctx;
  const valueWhere = r.whereOf(field.value, field.where);
  const text = r.string(field.value, '`to`', field.where);
  if (text === undefined) return undefined;
  const ref = readRef(ctx, text, valueWhere);
  if (!ref) return undefined;
  if (ref.tag !== undefined || ref.digest !== undefined) {
    r.problem(valueWhere, `\`to: ${text}\` names a tag or digest`, '`to` is the target repository; put the tag in `tag:`');
    return undefined;
  }
  return ref;
}
