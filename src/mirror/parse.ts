import { basename, dirname, resolve } from 'node:path';
import semver from 'semver';
import { isMap, isScalar, LineCounter, parseDocument, type YAMLError } from 'yaml';
import { AirlockError, MultiError } from '../errors.js';
import type { Platform } from '../oci/index.js';
import { formatReference, isValidTag, normaliseRegistry, type Reference } from '../reference/index.js';
import { collapseEntries } from './collapse.js';
import { readArchiveImage, readFromFileImage, readTargetTag, sourceKeyOf } from './parse-sources.js';
import {
  TLS_MODES, type ChartEntry, type FileEntry, type FileSignaturePolicy, type SignatureSource, type ImageEntry, type MirrorDefaults, type MirrorList,
  type RegistrySettings, type TagSelector, type TlsMode, type VerifyPolicy,
} from './types.js';
import { describe, YamlReader, type Field } from './yaml-reader.js';
import { httpUrl, readChartRef, readKeyless, readPath, readPlatforms, readRef, readVerify, type Ctx } from './parse-fields.js';

const ROOT_KEYS = ['version', 'defaults', 'registries', 'images', 'charts', 'files'] as const;
const DEFAULTS_KEYS = ['platforms', 'referrers'] as const;
const REGISTRY_KEYS = ['tls', 'certDir', 'authfile', 'creds'] as const;
const IMAGE_KEYS = ['ref', 'repository', 'tags', 'tag', 'platforms', 'referrers', 'verify', 'archive', 'layout', 'fromFile'] as const;
const TAGS_KEYS = ['semver', 'regex'] as const;
const CHART_KEYS = ['ref', 'repo', 'name', 'version', 'includeImages', 'includeDependencies'] as const;
const FILE_KEYS = ['path', 'url', 'checksums', 'sha256', 'name', 'signature', 'bundle', 'key', 'keyless'] as const;

/** A mirror list is a short hand-written file; anything this large is a mistake, not a list. */
export const MAX_MIRROR_LIST_BYTES = 4 * 1024 * 1024;

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const HOST_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

/**
 * Parse and validate one mirror list (README "Write the mirror list"). Pure: no file system, no
 * network; relative paths resolve against `file`'s directory. Every problem in the file is
 * collected and thrown at once as `MultiError('MIRROR_INVALID')` whose problems carry
 * `where: "file:line:col"`. Defaults are applied to the entries, and duplicates collapse.
 */
export function parseMirrorList(text: string, file: string): MirrorList {
  const problems = validate(text, file);
  if ('list' in problems) return problems.list;
  throw mirrorInvalid(problems.errors, file);
}

export function mirrorInvalid(problems: readonly AirlockError[], file: string): MultiError {
  const n = problems.length;
  return new MultiError('MIRROR_INVALID', `invalid mirror list ${file}: ${n} problem${n === 1 ? '' : 's'}`, problems, {
    ...(problems[0]?.where ? { where: problems[0].where } : { where: file }),
    hint: 'fix every problem listed; nothing was downloaded',
  });
}

function validate(text: string, file: string): { list: MirrorList } | { errors: AirlockError[] } {
  if (text.length > MAX_MIRROR_LIST_BYTES) {
    return {
      errors: [new AirlockError('MIRROR_INVALID', `the file is larger than ${MAX_MIRROR_LIST_BYTES} bytes`, { where: `${file}:1:1`, hint: 'is this really a mirror list?' })],
    };
  }
  // Editors do not count a byte order mark as a column; neither should we.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });
  const r = new YamlReader(file, doc, lines);

  // The yaml library's own errors, at its own positions. After a syntax error the tree is a guess,
  // so schema problems would mostly be noise; duplicate keys leave a sound tree and go on.
  for (const e of [...doc.errors, ...doc.warnings]) {
    r.problem(r.whereAt(e.pos[0]), yamlMessage(e), yamlHint(e));
  }
  if (doc.errors.every((e) => e.code === 'DUPLICATE_KEY')) {
    const list = readList(r, doc.contents, dirname(resolve(file)));
    if (list && r.problems.length === 0) return { list: { ...list, sources: [file] } };
  }
  return { errors: sortByPosition(r.problems) };
}

type ListBody = Omit<MirrorList, 'sources'>;

function readList(r: YamlReader, contents: unknown, baseDir: string): ListBody | undefined {
  const top = r.whereAt(0);
  if (r.isNull(contents)) {
    r.problem(top, 'the mirror list is empty', 'start it with `version: 1` and list images, charts or files');
    return undefined;
  }
  const root = r.map(contents, 'the mirror list', ROOT_KEYS, top);
  if (!root) return undefined;
  const ctx: Ctx = { r, baseDir };

  const versionField = root.get('version');
  if (!versionField) {
    if (root.lacks('version')) r.problem(r.whereOf(contents, top), 'missing `version: 1`', 'add `version: 1` as the first line');
  } else {
    const v = r.resolve(versionField.value, versionField.where);
    if (!(isScalar(v) && v.value === 1)) {
      r.problem(
        r.whereOf(v, versionField.where),
        `unsupported mirror list version: ${describe(v)}`,
        'this airlock reads `version: 1` (a number, not a string)',
      );
    }
  }

  const defaults = readDefaults(ctx, root.get('defaults'));
  const registries = readRegistries(ctx, root.get('registries'));
  const images = readSection(ctx, root.get('images'), 'images', (item, where) => readImage(ctx, item, where, defaults));
  const charts = readSection(ctx, root.get('charts'), 'charts', (item, where) => readChart(ctx, item, where));
  const files = readSection(ctx, root.get('files'), 'files', (item, where) => readFile(ctx, item, where));

  const collapsed = collapseEntries(images, charts, files);
  r.problems.push(...collapsed.problems);
  return { version: 1, defaults, registries, images: collapsed.images, charts: collapsed.charts, files: collapsed.files };
}

function readSection<T>(ctx: Ctx, field: Field | undefined, what: string, read: (item: unknown, where: string) => T | undefined): T[] {
  if (!field || ctx.r.isNull(field.value)) return [];
  const items = ctx.r.seq(field.value, `\`${what}\``, field.where);
  const out: T[] = [];
  for (const item of items ?? []) {
    const entry = read(item, ctx.r.whereOf(item, field.where));
    if (entry !== undefined) out.push(entry);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// defaults, registries

function readDefaults(ctx: Ctx, field: Field | undefined): MirrorDefaults {
  if (!field || ctx.r.isNull(field.value)) return { referrers: true };
  const m = ctx.r.map(field.value, '`defaults`', DEFAULTS_KEYS, field.where);
  if (!m) return { referrers: true };
  const platforms = readPlatforms(ctx, m.get('platforms'));
  const referrersField = m.get('referrers');
  const referrers = referrersField ? ctx.r.boolean(referrersField.value, '`referrers`', referrersField.where) : undefined;
  return { ...(platforms ? { platforms } : {}), referrers: referrers ?? true };
}

function readRegistries(ctx: Ctx, field: Field | undefined): Map<string, RegistrySettings> {
  const out = new Map<string, RegistrySettings>();
  if (!field || ctx.r.isNull(field.value)) return out;
  const { r } = ctx;
  const node = r.resolve(field.value, field.where);
  if (node === undefined) return out;
  if (!isMap(node)) {
    r.problem(r.whereOf(node, field.where), `\`registries\` must be a mapping of HOST[:PORT] to settings, not ${describe(node)}`, 'e.g. registries: { ghcr.io: { authfile: ./auth.json } }');
    return out;
  }
  for (const pair of node.items) {
    const keyWhere = r.whereOf(pair.key, field.where);
    const hostText = r.string(pair.key, 'a registry name', keyWhere);
    if (hostText === undefined) continue;
    const host = parseHost(hostText);
    if (host === undefined) {
      r.problem(
        keyWhere,
        `\`${hostText}\` is not a registry HOST[:PORT]`,
        /^[a-z]+:\/\//i.test(hostText) ? 'write the host without a scheme; plain HTTP is `tls: plain-http`' : 'e.g. ghcr.io, registry.local:5001 or 127.0.0.1:5000',
      );
      continue;
    }
    const settings: { tls?: TlsMode; certDir?: string; authfile?: string; credentials?: { username: string; password: string }; where: string } = { where: keyWhere };
    if (!r.isNull(pair.value)) {
      const m = r.map(pair.value, `the settings of registry \`${hostText}\``, REGISTRY_KEYS, keyWhere);
      if (m) {
        const tls = m.get('tls');
        if (tls) {
          const mode = r.string(tls.value, '`tls`', tls.where);
          if (mode !== undefined) {
            if ((TLS_MODES as readonly string[]).includes(mode)) settings.tls = mode as TlsMode;
            else r.problem(r.whereOf(tls.value, tls.where), `\`tls: ${mode}\` is not one of ${TLS_MODES.join(', ')}`, '`verify` is the default; `plain-http` talks HTTP without TLS');
          }
        }
        const certDir = readPath(ctx, m.get('certDir'), '`certDir`');
        if (certDir !== undefined) settings.certDir = certDir;
        const authfile = readPath(ctx, m.get('authfile'), '`authfile`');
        if (authfile !== undefined) settings.authfile = authfile;
        const creds = m.get('creds');
        if (creds) {
          const text = r.string(creds.value, '`creds`', creds.where);
          const colon = text?.indexOf(':') ?? -1;
          if (text !== undefined && colon > 0) settings.credentials = { username: text.slice(0, colon), password: text.slice(colon + 1) };
          else if (text !== undefined) r.problem(r.whereOf(creds.value, creds.where), '`creds` must be USER:PASSWORD', 'or keep the password out of the list: `authfile: ./auth.json`');
        }
      }
    }
    const earlier = out.get(host);
    if (earlier) {
      r.problem(keyWhere, `registry \`${hostText}\` is listed twice (also at ${earlier.where}, as the same host)`, 'keep one entry per registry');
      continue;
    }
    out.set(host, settings);
  }
  return out;
}

/** `host[:port]` (or `[ipv6]:port`), normalised; undefined when it is not one. */
export function parseHost(text: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const [, name = '', port] = m;
  if (port !== undefined && (Number(port) === 0 || Number(port) > 65535)) return undefined;
  if (!name.startsWith('[') && !name.split('.').every((c) => HOST_COMPONENT.test(c))) return undefined;
  return normaliseRegistry(port === undefined ? name : `${name}:${port}`);
}

// ---------------------------------------------------------------------------------------------
// images

function readImage(ctx: Ctx, item: unknown, where: string, defaults: MirrorDefaults): ImageEntry | undefined {
  const { r } = ctx;
  const node = r.resolve(item, where);
  if (node === undefined) return undefined;
  if (isScalar(node) && !r.isNull(node)) {
    // Short form: a reference string.
    const text = r.string(node, 'an image', where);
    if (text === undefined) return undefined;
    const ref = readRef(ctx, text, where);
    return ref && refEntry(ref, where, defaults.platforms, defaults.referrers, undefined);
  }
  // Images from an archive, a layout or a release manifest: parse-sources.ts.
  const source = sourceKeyOf(node);
  if (source === 'fromFile') return readFromFileImage(ctx, node, where, defaults);
  if (source) return readArchiveImage(ctx, node, where, source, defaults);
  const m = r.map(node, 'an image entry', IMAGE_KEYS, where);
  if (!m) return undefined;
  const refField = m.get('ref');
  const repoField = m.get('repository');
  const tagsField = m.get('tags');
  let ok = true;
  if (refField && repoField) {
    r.problem(repoField.where, 'an image entry has either `ref` or `repository`, not both', 'use `ref` for one image, `repository` with `tags` for several');
    ok = false;
  } else if (m.lacks('ref') && m.lacks('repository')) {
    r.problem(where, 'an image entry needs `ref` (one image) or `repository` (with `tags`)', 'e.g. - ref: ghcr.io/org/app:1.0');
    ok = false;
  }
  if (refField && tagsField) {
    r.problem(tagsField.where, '`tags` applies to `repository` entries only', 'put the tag in `ref` (name:tag), or use `repository` with `tags`');
    ok = false;
  }
  const tagField = m.get('tag');
  if (tagField && !refField) {
    r.problem(tagField.where, '`tag` applies to a digest-only `ref`', 'a repository entry selects tags with `tags`');
    ok = false;
  }
  if (repoField && !refField && m.lacks('tags')) {
    r.problem(repoField.where, 'a `repository` entry needs `tags`', 'select tags with a list, `{ semver: RANGE }` or `{ regex: PATTERN }`');
    ok = false;
  }

  const platformsField = m.get('platforms');
  const platforms = platformsField ? readPlatforms(ctx, platformsField) : defaults.platforms;
  const referrersField = m.get('referrers');
  const referrers = referrersField ? r.boolean(referrersField.value, '`referrers`', referrersField.where) : defaults.referrers;
  const verifyField = m.get('verify');
  const verify = verifyField ? readVerify(ctx, verifyField) : undefined;

  let ref: Reference | undefined;
  if (refField) {
    const text = r.string(refField.value, '`ref`', refField.where);
    if (text !== undefined) ref = readRef(ctx, text, r.whereOf(refField.value, refField.where));
  }
  let repository: Reference | undefined;
  if (repoField) {
    const valueWhere = r.whereOf(repoField.value, repoField.where);
    const text = r.string(repoField.value, '`repository`', repoField.where);
    if (text !== undefined) {
      repository = readRef(ctx, text, valueWhere);
      if (repository && (repository.tag !== undefined || repository.digest !== undefined)) {
        r.problem(valueWhere, `\`repository: ${text}\` names a tag or digest`, 'a repository entry selects tags with `tags`; for one image use `ref`');
        repository = undefined;
      }
    }
  }
  const tags = tagsField ? readTags(ctx, tagsField) : undefined;

  let targetTag: string | undefined;
  if (tagField && refField) {
    targetTag = readTargetTag(ctx, tagField);
    if (targetTag === undefined) return undefined;
    if (ref && (ref.digest === undefined || ref.tag !== undefined)) {
      // The tag is set in the target only, so it must name something that cannot move: a digest.
      r.problem(tagField.where, `\`tag: ${targetTag}\` applies to a digest-only reference, and \`${formatReference(ref)}\` ${ref.digest === undefined ? 'has no digest' : 'has a tag of its own'}`,
        ref.digest === undefined ? 'pin the image: ref: REPOSITORY@sha256:DIGEST' : 'drop one of the two tags');
      return undefined;
    }
  }

  if (!ok || referrers === undefined) return undefined;
  if (verifyField && !verify) return undefined;
  if (platformsField && !platforms) return undefined;
  if (ref) {
    const entry = refEntry(ref, where, platforms, referrers, verify);
    return targetTag !== undefined && entry.kind === 'ref' ? { ...entry, targetTag } : entry;
  }
  if (repository && tags) {
    return {
      kind: 'repository', repository, tags, referrers, where,
      ...(platforms ? { platforms } : {}), ...(verify ? { verify } : {}),
    };
  }
  return undefined;
}

function refEntry(
  parsed: Reference, where: string, platforms: readonly Platform[] | undefined, referrers: boolean, verify: VerifyPolicy | undefined,
): ImageEntry {
  // A bare reference means `latest`, as `docker pull` reads it.
  const ref: Reference = parsed.tag === undefined && parsed.digest === undefined ? { ...parsed, tag: 'latest' } : parsed;
  return {
    kind: 'ref', ref, floating: ref.digest === undefined && ref.tag === 'latest', referrers, where,
    ...(platforms ? { platforms } : {}), ...(verify ? { verify } : {}),
  };
}

function readTags(ctx: Ctx, field: Field): TagSelector | undefined {
  const { r } = ctx;
  const node = r.resolve(field.value, field.where);
  if (node === undefined) return undefined;
  const where = r.whereOf(node, field.where);
  if (!isMap(node)) {
    const items = r.seq(node, '`tags`', field.where);
    if (!items) return undefined;
    if (items.length === 0) {
      r.problem(where, '`tags` is an empty list', 'list at least one tag, or use `{ semver: RANGE }` / `{ regex: PATTERN }`');
      return undefined;
    }
    const tags = new Set<string>();
    let ok = true;
    for (const item of items) {
      const itemWhere = r.whereOf(item, where);
      const tag = r.string(item, 'a tag', itemWhere);
      if (tag === undefined) {
        ok = false;
      } else if (!isValidTag(tag)) {
        r.problem(itemWhere, `"${tag}" is not a valid tag`, 'a tag has up to 128 letters, digits, _ . and -, and does not start with . or -');
        ok = false;
      } else {
        tags.add(tag);
      }
    }
    return ok ? { kind: 'list', tags: [...tags].sort(compareStrings) } : undefined;
  }
  const m = r.map(node, '`tags`', TAGS_KEYS, field.where);
  if (!m) return undefined;
  const semverField = m.get('semver');
  const regexField = m.get('regex');
  if (semverField && regexField) {
    r.problem(regexField.where, '`tags` has either `semver` or `regex`, not both', 'add a second entry for the same repository to combine selections');
    return undefined;
  }
  if (semverField) {
    const range = r.string(semverField.value, '`semver`', semverField.where);
    if (range === undefined) return undefined;
    if (semver.validRange(range) === null) {
      r.problem(r.whereOf(semverField.value, semverField.where), `\`${range}\` is not a semver range`, 'e.g. ">=1.2.0 <2.0.0", "^1.4", "~2.3.1" (https://github.com/npm/node-semver#ranges)');
      return undefined;
    }
    return { kind: 'semver', range };
  }
  if (regexField) {
    const pattern = r.string(regexField.value, '`regex`', regexField.where);
    if (pattern === undefined) return undefined;
    try {
      new RegExp(pattern);
    } catch (err) {
      r.problem(r.whereOf(regexField.value, regexField.where), `\`${pattern}\` is not a valid regular expression: ${(err as Error).message}`, 'JavaScript RegExp syntax; anchor it yourself (^...$)', err);
      return undefined;
    }
    return { kind: 'regex', pattern };
  }
  r.problem(where, '`tags` needs `semver` or `regex` (or write a list of tags)', 'e.g. tags: { semver: ">=1.2.0 <2.0.0" } or tags: [v1.0.0, v1.1.0]');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// charts, files

function readChart(ctx: Ctx, item: unknown, where: string): ChartEntry | undefined {
  const { r } = ctx;
  const m = r.map(item, 'a chart entry', CHART_KEYS, where);
  if (!m) return undefined;
  const refField = m.get('ref');
  const repoField = m.get('repo');
  const nameField = m.get('name');
  const versionField = m.get('version');
  let ok = true;
  if (refField && repoField) {
    r.problem(repoField.where, 'a chart entry has either `ref` (oci://) or `repo` (index.yaml repository), not both', 'keep the one the chart is published through');
    ok = false;
  } else if (m.lacks('ref') && m.lacks('repo')) {
    r.problem(where, 'a chart entry needs `ref` or `repo`', 'ref: oci://HOST/PATH/CHART, or repo: https://URL with name: CHART');
    ok = false;
  }
  if (refField && nameField) {
    r.problem(nameField.where, '`name` applies to `repo` charts only', 'an OCI chart is named by the last part of its `ref`');
    ok = false;
  }
  if (repoField && m.lacks('name')) {
    r.problem(repoField.where, 'a `repo` chart needs `name`', 'the chart name as listed in the repository index.yaml');
    ok = false;
  }
  let version: string | undefined;
  if (!versionField) {
    if (m.lacks('version')) r.problem(where, 'a chart entry needs `version`', 'an exact version (1.4.2) or a semver range (~1.4)');
    ok = false;
  } else {
    version = r.string(versionField.value, '`version`', versionField.where);
    if (version !== undefined && semver.validRange(version) === null) {
      r.problem(r.whereOf(versionField.value, versionField.where), `\`version: ${version}\` is neither a version nor a semver range`, 'e.g. 1.4.2, ~1.4 or ">=1.4.0 <2.0.0"');
      version = undefined;
    }
  }
  const includeField = m.get('includeImages');
  const includeImages = includeField ? r.boolean(includeField.value, '`includeImages`', includeField.where) : false;
  const depsField = m.get('includeDependencies');
  const includeDependencies = depsField ? r.boolean(depsField.value, '`includeDependencies`', depsField.where) : false;

  if (refField) {
    const valueWhere = r.whereOf(refField.value, refField.where);
    const text = r.string(refField.value, '`ref`', refField.where);
    if (text === undefined) return undefined;
    if (!text.startsWith('oci://')) {
      r.problem(valueWhere, `chart \`ref: ${text}\` is not an oci:// reference`, 'write oci://HOST/PATH/CHART; for an index.yaml repository use `repo` and `name`');
      return undefined;
    }
    const ref = readChartRef(ctx, text.slice('oci://'.length), valueWhere);
    if (!ref) return undefined;
    if (ref.tag !== undefined || ref.digest !== undefined) {
      r.problem(valueWhere, `chart \`ref: ${text}\` names a tag or digest`, 'put the chart version in `version:`');
      return undefined;
    }
    if (!ok || version === undefined || includeImages === undefined || includeDependencies === undefined) return undefined;
    return { kind: 'oci', ref, version, includeImages, includeDependencies, where };
  }
  if (repoField) {
    const text = r.string(repoField.value, '`repo`', repoField.where);
    const name = nameField ? r.string(nameField.value, '`name`', nameField.where) : undefined;
    if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      r.problem(r.whereOf(nameField?.value, nameField?.where ?? where), `\`name: ${name}\` is not a chart name`, 'a chart name is letters, digits, . _ and -');
      ok = false;
    }
    if (text === undefined) return undefined;
    const url = httpUrl(text);
    if (!url) {
      r.problem(r.whereOf(repoField.value, repoField.where), `chart \`repo: ${text}\` is not an http(s) URL`, 'e.g. https://charts.example.com/stable; OCI charts use `ref: oci://...`');
      return undefined;
    }
    if (url.username || url.password) {
      r.problem(r.whereOf(repoField.value, repoField.where), 'chart `repo` URL contains credentials', 'remove user:password from the URL');
      return undefined;
    }
    if (!ok || name === undefined || version === undefined || includeImages === undefined || includeDependencies === undefined) return undefined;
    return { kind: 'repo', repoUrl: url.toString().replace(/\/+$/, ''), name, version, includeImages, includeDependencies, where };
  }
  return undefined;
}

function readFile(ctx: Ctx, item: unknown, where: string): FileEntry | undefined {
  const { r } = ctx;
  const m = r.map(item, 'a file entry', FILE_KEYS, where);
  if (!m) return undefined;
  // `checksums: X` is `path: X` (or `url: X`) that is also the release set's checksums file.
  const checksumsField = m.get('checksums');
  let pathField = m.get('path');
  let urlField = m.get('url');
  const shaField = m.get('sha256');
  const nameField = m.get('name');
  let ok = true;
  if (checksumsField && (pathField || urlField)) {
    r.problem(checksumsField.where, 'a file entry has `checksums` (the file itself) or `path`/`url`, not both', 'e.g. - checksums: ./checksums.txt');
    ok = false;
  } else if (checksumsField) {
    const text = r.string(checksumsField.value, '`checksums`', checksumsField.where);
    if (text === undefined) return undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) urlField = checksumsField;
    else pathField = checksumsField;
  }
  if (pathField && urlField) {
    r.problem(urlField.where, 'a file entry has either `path` or `url`, not both', 'use two entries with different names');
    ok = false;
  } else if (m.lacks('path') && m.lacks('url') && m.lacks('checksums')) {
    r.problem(where, 'a file entry needs `path`, `url` or `checksums`', 'path: ./local-file, or url: https://... with sha256: HEX');
    ok = false;
  }
  if (pathField && shaField) {
    r.problem(shaField.where, '`sha256` applies to `url` files only', 'a local file is hashed when it is bundled');
    ok = false;
  }
  let name: string | undefined;
  if (nameField) {
    name = r.string(nameField.value, '`name`', nameField.where);
    if (name !== undefined && !isSafeFileName(name)) {
      r.problem(r.whereOf(nameField.value, nameField.where), `\`name: ${name}\` is not a plain file name`, 'no slashes, not . or ..; import writes it to files/NAME');
      name = undefined;
      ok = false;
    }
    if (name === undefined) ok = false;
  }
  const signature = readFileSignature(ctx, m);
  if (signature === null) ok = false;
  const common = { ...(checksumsField ? { checksums: true } : {}), ...(signature ? { signature } : {}) };

  if (pathField) {
    const path = readPath(ctx, pathField, pathField === checksumsField ? '`checksums`' : '`path`');
    if (path === undefined || !ok) return undefined;
    return { kind: 'path', path, name: name ?? basename(path), where, ...common };
  }
  if (urlField) {
    const urlWhere = r.whereOf(urlField.value, urlField.where);
    const text = r.string(urlField.value, '`url`', urlField.where);
    let sha256: string | undefined;
    if (!shaField) {
      if (m.lacks('sha256')) r.problem(where, 'a `url` file needs `sha256`', 'add sha256: <64 hex characters> so the download can be checked (sha256sum FILE)');
      ok = false;
    } else {
      const hex = r.string(shaField.value, '`sha256`', shaField.where);
      if (hex !== undefined && !SHA256_HEX.test(hex)) {
        r.problem(r.whereOf(shaField.value, shaField.where), '`sha256` must be 64 hex characters', hex.startsWith('sha256:') ? 'drop the sha256: prefix' : 'the output of sha256sum FILE');
      } else if (hex !== undefined) {
        sha256 = hex.toLowerCase();
      }
    }
    if (text === undefined) return undefined;
    const url = httpUrl(text);
    if (!url) {
      r.problem(urlWhere, `\`url: ${text}\` is not an http(s) URL`, 'e.g. https://example.com/releases/1.0.0/checksums.txt');
      return undefined;
    }
    if (url.username || url.password) {
      r.problem(urlWhere, 'file `url` contains credentials', 'remove user:password from the URL');
      return undefined;
    }
    if (name === undefined && !nameField) {
      name = nameFromUrl(url);
      if (name === undefined) {
        r.problem(urlWhere, `cannot tell a file name from \`${text}\``, 'add `name: FILE_NAME`');
        return undefined;
      }
    }
    if (!ok || sha256 === undefined || name === undefined) return undefined;
    return { kind: 'url', url: url.toString(), sha256, name, where, ...common };
  }
  return undefined;
}

/**
 * A file entry's `signature:` + `key:` (cosign sign-blob) or `bundle:` + `key:`/`keyless:` (a
 * Sigstore bundle). undefined: none asked for; null: asked for, with problems (already reported).
 */
function readFileSignature(ctx: Ctx, m: NonNullable<ReturnType<YamlReader["map"]>>): FileSignaturePolicy | undefined | null {
  const { r } = ctx;
  const sigField = m.get('signature');
  const bundleField = m.get('bundle');
  const keyField = m.get('key');
  const keylessField = m.get('keyless');
  if (!sigField && !bundleField) {
    const stray = keyField ?? keylessField;
    if (stray) {
      r.problem(stray.where, `\`${stray === keyField ? 'key' : 'keyless'}\` verifies a \`signature\` or \`bundle\`, and the entry has neither`, 'add signature: ./FILE.sig (cosign sign-blob) or bundle: ./FILE.sigstore.json');
      return null;
    }
    return m.lacks('signature') && m.lacks('bundle') && m.lacks('key') && m.lacks('keyless') ? undefined : null;
  }
  if (sigField && bundleField) {
    r.problem(bundleField.where, 'a file entry has either `signature` (cosign sign-blob) or `bundle` (a Sigstore bundle), not both', 'keep the one the vendor publishes');
    return null;
  }
  if (keyField && keylessField) {
    r.problem(keylessField.where, 'a signature is checked with either `key` or `keyless`, not both', 'keep the one the vendor signs with');
    return null;
  }
  const sourceField = (sigField ?? bundleField)!;
  const source = readSignatureSource(ctx, sourceField, sigField ? '`signature`' : '`bundle`');
  const keyPath = keyField ? readPath(ctx, keyField, '`key`') : undefined;
  if (sigField) {
    if (keylessField) {
      r.problem(keylessField.where, 'a cosign `signature` is checked with `key`; keyless signatures come as a Sigstore `bundle`', 'use bundle: FILE.sigstore.json with keyless:, or signature: with key:');
      return null;
    }
    if (!keyField) {
      if (m.lacks('key')) r.problem(sigField.where, '`signature` needs `key`: the vendor\'s public key (cosign.pub)', 'add key: ./cosign.pub');
      return null;
    }
    if (!source || keyPath === undefined) return null;
    return { kind: 'cosign', signature: source, keyPath, where: r.whereOf(sigField.value, sigField.where) };
  }
  if (!keyField && !keylessField) {
    if (m.lacks('key') && m.lacks('keyless')) r.problem(bundleField!.where, '`bundle` needs `key` or `keyless` (who must have signed it)', 'keyless: { issuer: URL, identity: SIGNER, trustedRoot: ./trusted_root.json }');
    return null;
  }
  let keyless: Extract<VerifyPolicy, { kind: 'keyless' }> | undefined;
  if (keylessField) {
    const policy = readKeyless(ctx, keylessField);
    if (!policy) return null;
    if (!policy.trustedRoot) {
      r.problem(keylessField.where, '`keyless` needs `trustedRoot`: signatures are checked offline, at export and at the site', 'add trustedRoot: ./trusted_root.json (the Sigstore instance\'s root)');
      return null;
    }
    keyless = policy;
  }
  if (!source || (keyField && keyPath === undefined)) return null;
  return {
    kind: 'bundle', bundle: source, where: r.whereOf(bundleField!.value, bundleField!.where),
    ...(keyPath !== undefined ? { keyPath } : {}), ...(keyless ? { keyless } : {}),
  };
}

function readSignatureSource(ctx: Ctx, field: Field, what: string): SignatureSource | undefined {
  const text = ctx.r.string(field.value, what, field.where);
  if (text === undefined) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const url = httpUrl(text);
    if (!url || url.username || url.password) {
      ctx.r.problem(ctx.r.whereOf(field.value, field.where), `${what} \`${text}\` is not an http(s) URL without credentials`, 'a path beside the mirror list, or https://...');
      return undefined;
    }
    return { kind: 'url', url: url.toString() };
  }
  const path = readPath(ctx, field, what);
  return path === undefined ? undefined : { kind: 'path', path };
}

// ---------------------------------------------------------------------------------------------
// small helpers


function nameFromUrl(url: URL): string | undefined {
  const last = url.pathname.split('/').pop() ?? '';
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    return undefined;
  }
  return isSafeFileName(name) ? name : undefined;
}

function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortByPosition(problems: readonly AirlockError[]): AirlockError[] {
  const key = (e: AirlockError): [number, number] => {
    const m = /:(\d+):(\d+)$/.exec(e.where ?? '');
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  // Stable: problems at one position keep the order they were found in.
  return problems
    .map((e, i) => ({ e, i, k: key(e) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.i - b.i)
    .map((x) => x.e);
}

export function yamlMessage(e: YAMLError): string {
  const first = e.message.split('\n')[0] ?? e.message;
  // The library appends " at line L, column C" to some messages; the position is in `where`.
  return `YAML: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

export function yamlHint(e: YAMLError): string {
  switch (e.code) {
    case 'DUPLICATE_KEY': return 'a key may appear only once in a mapping';
    case 'TAB_AS_INDENT': return 'indent with spaces, not tabs';
    case 'MULTIPLE_DOCS': return 'a mirror list is one YAML document; use several -f files instead of ---';
    case 'TAG_RESOLVE_FAILED': return 'a mirror list uses no YAML tags (!name)';
    default: return 'check the indentation, quotes and brackets around this position';
  }
}
