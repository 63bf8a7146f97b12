import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { AirlockError } from '../errors.js';
import { parseReference, type Reference } from '../reference/index.js';
import { collapseEntries } from './collapse.js';
import { mirrorInvalid } from './parse.js';
import { selectValues } from './select.js';
import type { ImageEntry, ImageFromFileEntry, ImageRefEntry, MirrorList } from './types.js';
import { parseYamlData } from './yaml-data.js';

/** A release manifest lists a release's images; one this large is not one. */
export const MAX_RELEASE_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Replace every `fromFile:` entry of `list` by the image references its selector yields from the
 * file (JSON; YAML when it ends in .yaml or .yml), each an ordinary `ref` entry that remembers
 * where it came from. Every problem, in every such entry, is reported at once as MIRROR_INVALID
 * at the mirror list's file:line:col, naming the file, the selector and the value at fault (and
 * where in the file it is). Nothing is downloaded.
 */
export async function expandFromFiles(list: MirrorList): Promise<MirrorList> {
  if (!list.images.some((e) => e.kind === 'fromFile')) return list;
  const problems: AirlockError[] = [];
  const images: ImageEntry[] = [];
  for (const entry of list.images) {
    if (entry.kind !== 'fromFile') {
      images.push(entry);
      continue;
    }
    images.push(...(await expandOne(entry, problems)));
  }
  const collapsed = collapseEntries(images, list.charts, list.files);
  problems.push(...collapsed.problems);
  if (problems.length > 0) throw mirrorInvalid(problems, list.sources.join(', '));
  return { ...list, images: collapsed.images };
}

async function expandOne(entry: ImageFromFileEntry, problems: AirlockError[]): Promise<ImageRefEntry[]> {
  const name = basename(entry.path);
  const problem = (where: string, message: string, hint: string, cause?: unknown): void => {
    problems.push(new AirlockError('MIRROR_INVALID', message, { where, hint, ...(cause !== undefined ? { cause } : {}) }));
  };
  let text: string;
  try {
    const info = await stat(entry.path);
    if (!info.isFile()) {
      problem(entry.where, `fromFile ${entry.path} is not a file`, 'name the release manifest itself (a JSON or YAML file)');
      return [];
    }
    if (info.size > MAX_RELEASE_MANIFEST_BYTES) {
      problem(entry.where, `fromFile ${entry.path} is larger than ${MAX_RELEASE_MANIFEST_BYTES} bytes`, 'is this really a release manifest?');
      return [];
    }
    text = await readFile(entry.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem(entry.where, `cannot read fromFile ${entry.path}${code ? ` (${code})` : ''}`, code === 'ENOENT' ? 'check the path: it is relative to the mirror list' : 'check that the file is readable', err);
    return [];
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);

  let doc: unknown;
  if (/\.ya?ml$/i.test(entry.path)) {
    try {
      doc = parseYamlData(text, { where: entry.path, code: 'MIRROR_INVALID' });
    } catch (err) {
      problem(entry.where, `fromFile ${name} is not valid YAML: ${(err as Error).message}${err instanceof AirlockError && err.where ? ` (${err.where})` : ''}`, 'check the file, or name a JSON file', err);
      return [];
    }
  } else {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      problem(entry.where, `fromFile ${name} is not valid JSON: ${(err as Error).message}`, 'check the file (jq . FILE shows where it breaks); a YAML file must end in .yaml or .yml', err);
      return [];
    }
  }

  const selected = selectValues(doc, entry.selector);
  if (selected.length === 0) {
    problem(entry.selectorWhere, `\`select: ${entry.selector}\` yields nothing from ${name}`, 'check the selector against the file, e.g. with a JSONPath tester; it must yield the image references');
    return [];
  }
  const out: ImageRefEntry[] = [];
  for (const s of selected) {
    const shown = JSON.stringify(s.value)?.slice(0, 120) ?? String(s.value);
    if (typeof s.value !== 'string') {
      problem(entry.selectorWhere, `\`select: ${entry.selector}\` yields ${shown} at ${s.path} of ${name}, which is not an image reference (a string)`,
        'select the strings that hold the references, e.g. "$.images[*].image" rather than "$.images[*]"');
      continue;
    }
    let ref: Reference;
    try {
      ref = parseReference(s.value, { where: entry.selectorWhere });
    } catch (err) {
      problem(entry.selectorWhere, `\`select: ${entry.selector}\` yields ${shown} at ${s.path} of ${name}, which is not an image reference: ${(err as AirlockError).message}`,
        'the release manifest must name images as REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]; fix the selector or the file', err);
      continue;
    }
    const pinned: Reference = ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
    out.push({
      kind: 'ref', ref: pinned, floating: pinned.digest === undefined && pinned.tag === 'latest', referrers: entry.referrers, where: entry.where,
      fromFile: { path: entry.path, selector: entry.selector },
      // `tag:` names the digest-only references in the target; one with its own tag keeps it.
      ...(entry.tag !== undefined && pinned.digest !== undefined && pinned.tag === undefined ? { targetTag: entry.tag } : {}),
      ...(entry.platforms ? { platforms: entry.platforms } : {}), ...(entry.verify ? { verify: entry.verify } : {}),
    });
  }
  return out;
}
