import { AirlockError } from '../errors.js';
import { formatPlatform, type Platform } from '../oci/index.js';
import { formatReference, formatRepository } from '../reference/index.js';
import type { ChartEntry, FileEntry, ImageEntry, RegistrySettings, TagSelector, VerifyPolicy } from './types.js';

export interface Collapsed {
  readonly images: ImageEntry[];
  readonly charts: ChartEntry[];
  readonly files: FileEntry[];
  readonly problems: AirlockError[];
}

/**
 * Duplicates collapse into the first occurrence (its `where` is kept). Two entries are the same
 * when they name the same thing after normalisation (`nginx:1.27` = `docker.io/library/nginx:1.27`):
 * platforms are unioned (absent = all wins), referrers and includeImages are or-ed. Settings that
 * cannot both hold (two verify policies, two files under one name) are problems naming both places.
 */
export function collapseEntries(images: readonly ImageEntry[], charts: readonly ChartEntry[], files: readonly FileEntry[]): Collapsed {
  const problems: AirlockError[] = [];

  const imageIndex = new Map<string, number>();
  const outImages: ImageEntry[] = [];
  for (const entry of images) {
    const key = imageKey(entry);
    const at = imageIndex.get(key);
    if (at === undefined) {
      imageIndex.set(key, outImages.length);
      outImages.push(entry);
      continue;
    }
    const first = outImages[at]!;
    if (first.verify && entry.verify && !sameVerify(first.verify, entry.verify)) {
      problems.push(conflict(entry.where, first.where, `image \`${imageLabel(entry)}\` has two different \`verify\` policies`, 'give the image one verify policy'));
      continue;
    }
    const platforms = unionPlatforms(first.platforms, entry.platforms);
    const verify = first.verify ?? entry.verify;
    const { platforms: _p, verify: _v, ...rest } = first;
    outImages[at] = {
      ...rest,
      referrers: first.referrers || entry.referrers,
      ...(platforms ? { platforms } : {}),
      ...(verify ? { verify } : {}),
    } as ImageEntry;
  }

  const chartIndex = new Map<string, number>();
  const outCharts: ChartEntry[] = [];
  for (const entry of charts) {
    const key = chartKey(entry);
    const at = chartIndex.get(key);
    if (at === undefined) {
      chartIndex.set(key, outCharts.length);
      outCharts.push(entry);
      continue;
    }
    const first = outCharts[at]!;
    outCharts[at] = { ...first, includeImages: first.includeImages || entry.includeImages, includeDependencies: first.includeDependencies || entry.includeDependencies };
  }

  const fileByName = new Map<string, FileEntry>();
  const fileByUrl = new Map<string, FileEntry>();
  const outFiles: FileEntry[] = [];
  for (const entry of files) {
    if (entry.kind === 'url') {
      const sameUrl = fileByUrl.get(entry.url);
      if (sameUrl && sameUrl.kind === 'url' && sameUrl.sha256 !== entry.sha256) {
        problems.push(conflict(entry.where, sameUrl.where, `\`${entry.url}\` is listed with two different sha256 values`, 'one of them is wrong: check with sha256sum'));
        continue;
      }
    }
    const first = fileByName.get(entry.name);
    if (first) {
      if (!sameFile(first, entry)) {
        problems.push(conflict(entry.where, first.where, `two different files would be delivered as \`${entry.name}\``, 'give one of them another `name:`'));
      } else if ((entry.signature && !first.signature) || (entry.checksums && !first.checksums)) {
        // The same file listed twice: what either entry asks to check is checked.
        const merged: FileEntry = { ...first, ...(first.signature ?? entry.signature ? { signature: (first.signature ?? entry.signature)! } : {}), ...(first.checksums || entry.checksums ? { checksums: true } : {}) };
        fileByName.set(entry.name, merged);
        outFiles[outFiles.indexOf(first)] = merged;
      }
      continue;
    }
    fileByName.set(entry.name, entry);
    if (entry.kind === 'url') fileByUrl.set(entry.url, entry);
    outFiles.push(entry);
  }

  return { images: outImages, charts: outCharts, files: outFiles, problems };
}

/**
 * Registry settings from several lists, merged field by field: one list may set `tls` and another
 * `authfile` for the same host; two different values for one field are a conflict.
 */
export function mergeRegistries(
  maps: readonly ReadonlyMap<string, RegistrySettings>[],
  problems: AirlockError[],
): Map<string, RegistrySettings> {
  const out = new Map<string, RegistrySettings>();
  for (const map of maps) {
    for (const [host, settings] of map) {
      const first = out.get(host);
      if (!first) {
        out.set(host, settings);
        continue;
      }
      const merged: { -readonly [K in keyof RegistrySettings]: RegistrySettings[K] } = { ...first };
      let ok = true;
      for (const field of ['tls', 'certDir', 'authfile', 'credentials'] as const) {
        const a = first[field];
        const b = settings[field];
        if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
          const shown = field === 'credentials' ? '' : ` (${String(a)} and ${String(b)})`;
          problems.push(conflict(settings.where, first.where, `registry \`${host}\` has two different \`${field === 'credentials' ? 'creds' : field}\` settings${shown}`, 'keep one setting per registry across all -f files'));
          ok = false;
        } else if (a === undefined && b !== undefined) {
          (merged as Record<string, unknown>)[field] = b;
        }
      }
      if (ok) out.set(host, merged);
    }
  }
  return out;
}

function conflict(where: string, otherWhere: string, message: string, hint: string): AirlockError {
  return new AirlockError('MIRROR_INVALID', `${message} (also at ${otherWhere})`, { where, hint });
}

function imageKey(e: ImageEntry): string {
  switch (e.kind) {
    // Two target tags for one digest are two entries: the target gets both.
    case 'ref': return `ref ${formatReference(e.ref)}${e.targetTag !== undefined ? ` tag ${e.targetTag}` : ''}`;
    case 'repository': return `repository ${formatRepository(e.repository)} ${selectorKey(e.tags)}`;
    case 'archive': return `${e.source} ${e.path} ${e.ref ?? ''} ${e.to ? formatRepository(e.to) : ''} ${e.tag ?? ''}`;
    case 'fromFile': return `fromFile ${e.path} ${e.selector} ${e.tag ?? ''}`;
  }
}

function imageLabel(e: ImageEntry): string {
  switch (e.kind) {
    case 'ref': return formatReference(e.ref);
    case 'repository': return formatRepository(e.repository);
    case 'archive': return `${e.source}: ${e.path}`;
    case 'fromFile': return `fromFile: ${e.path}`;
  }
}

function selectorKey(s: TagSelector): string {
  switch (s.kind) {
    case 'list': return `list ${s.tags.join(',')}`;
    case 'semver': return `semver ${s.range}`;
    case 'regex': return `regex ${s.pattern}`;
  }
}

function chartKey(e: ChartEntry): string {
  switch (e.kind) {
    case 'oci': return `oci ${formatRepository(e.ref)} ${e.version}`;
    case 'repo': return `repo ${e.repoUrl} ${e.name} ${e.version}`;
  }
}

function sameFile(a: FileEntry, b: FileEntry): boolean {
  if (a.kind === 'path' && b.kind === 'path') return a.path === b.path;
  if (a.kind === 'url' && b.kind === 'url') return a.url === b.url && a.sha256 === b.sha256;
  return false;
}

function sameVerify(a: VerifyPolicy, b: VerifyPolicy): boolean {
  if (a.kind === 'key' && b.kind === 'key') return a.keyPath === b.keyPath;
  if (a.kind === 'keyless' && b.kind === 'keyless') {
    return a.issuer === b.issuer && a.identity === b.identity && a.identityRegexp === b.identityRegexp && a.trustedRoot === b.trustedRoot;
  }
  return false;
}

function unionPlatforms(a: readonly Platform[] | undefined, b: readonly Platform[] | undefined): readonly Platform[] | undefined {
  if (!a || !b) return undefined; // one of them wants every platform
  const out = new Map<string, Platform>();
  for (const p of [...a, ...b]) if (!out.has(formatPlatform(p))) out.set(formatPlatform(p), p);
  return [...out.values()];
}
