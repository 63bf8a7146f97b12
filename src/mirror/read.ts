import { readFile, stat } from 'node:fs/promises';
import { AirlockError, ioError, MultiError } from '../errors.js';
import { formatPlatform, type Platform } from '../oci/index.js';
import { collapseEntries, mergeRegistries } from './collapse.js';
import { expandFromFiles } from './from-file.js';
import { MAX_MIRROR_LIST_BYTES, mirrorInvalid, parseMirrorList } from './parse.js';
import type { MirrorDefaults, MirrorList } from './types.js';

/**
 * Several `-f` lists as one: entries concatenated in file order, duplicates collapsed, registry
 * settings merged field by field. Conflicts throw MIRROR_INVALID naming both places.
 * Each list's defaults were applied to its own entries when it was parsed.
 */
export function mergeMirrorLists(lists: readonly MirrorList[]): MirrorList {
  if (lists.length === 1) return lists[0]!;
  const problems: AirlockError[] = [];
  const registries = mergeRegistries(lists.map((l) => l.registries), problems);
  const collapsed = collapseEntries(
    lists.flatMap((l) => l.images),
    lists.flatMap((l) => l.charts),
    lists.flatMap((l) => l.files),
  );
  problems.push(...collapsed.problems);
  const sources = lists.flatMap((l) => l.sources);
  if (problems.length > 0) throw mirrorInvalid(problems, sources.join(', '));
  return {
    version: 1,
    defaults: mergeDefaults(lists.map((l) => l.defaults)),
    registries,
    images: collapsed.images,
    charts: collapsed.charts,
    files: collapsed.files,
    sources,
  };
}

/**
 * Read, parse and merge the mirror lists named by `-f`. Every file is parsed before anything is
 * reported, so problems in all of them come out together. A file that cannot be read is an IO
 * error naming its path. `fromFile:` release manifests are read and their selectors applied here
 * (from-file.ts). No network I/O happens here or anywhere in this module.
 */
export async function readMirrorLists(paths: readonly string[]): Promise<MirrorList> {
  if (paths.length === 0) {
    throw new AirlockError('USAGE', 'no mirror list given', { hint: 'pass one or more -f MIRROR.yaml' });
  }
  const texts: string[] = [];
  for (const path of paths) texts.push(await readText(path));

  const lists: MirrorList[] = [];
  const problems: AirlockError[] = [];
  for (const [i, path] of paths.entries()) {
    try {
      // fromFile: entries are read here, after the list itself parsed cleanly.
      lists.push(await expandFromFiles(parseMirrorList(texts[i]!, path)));
    } catch (err) {
      if (err instanceof MultiError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length > 0) throw mirrorInvalid(problems, paths.join(', '));
  return mergeMirrorLists(lists);
}

async function readText(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new AirlockError('IO', `cannot read mirror list ${path}: it is a directory`, { where: path, hint: 'pass the YAML file itself' });
    }
    if (info.size > MAX_MIRROR_LIST_BYTES) {
      throw new AirlockError('MIRROR_INVALID', `mirror list ${path} is larger than ${MAX_MIRROR_LIST_BYTES} bytes`, { where: path, hint: 'is this really a mirror list?' });
    }
    return await readFile(path, 'utf8');
  } catch (err) {
    throw ioError(err, 'read mirror list', path);
  }
}

/** For reporting only: what the lists' defaults amount to together. */
function mergeDefaults(all: readonly MirrorDefaults[]): MirrorDefaults {
  const referrers = all.some((d) => d.referrers);
  if (all.some((d) => !d.platforms)) return { referrers };
  const platforms = new Map<string, Platform>();
  for (const d of all) for (const p of d.platforms ?? []) platforms.set(formatPlatform(p), p);
  return { platforms: [...platforms.values()], referrers };
}
