import semver from 'semver';
import { AirlockError } from '../errors.js';
import type { TagSelector } from './types.js';

/**
 * The tags of a repository that a selector picks, sorted and deterministic.
 *
 * - `list`: the listed tags themselves, whether or not `available` has them: a tag the user named
 *   that does not exist upstream must fail loudly when it is resolved, not vanish here.
 * - `semver`: tags that are semantic versions, optionally `v`-prefixed (`v1.2.3`), and satisfy
 *   the range (node-semver rules: a prerelease matches only when the range names a prerelease of
 *   the same MAJOR.MINOR.PATCH, so `1.27.0-alpine`, which semver reads as a prerelease, is left
 *   out of `^1.27`). Partial versions (`1.27`) are not versions: nothing is coerced beyond the
 *   `v`, since `semver.coerce` would turn `1.27-alpine` into 1.27.0. Sorted by version; `1.2.3`
 *   and `v1.2.3` both present sort by their text.
 * - `regex`: tags the pattern matches, anchored only as written (`^v1\.` matches `v1.2-rc`).
 *   Sorted by code point.
 */
export function selectTags(available: readonly string[], selector: TagSelector): string[] {
  switch (selector.kind) {
    case 'list':
      return [...new Set(selector.tags)].sort(compareStrings);
    case 'semver': {
      if (semver.validRange(selector.range) === null) {
        throw new AirlockError('MIRROR_INVALID', `\`${selector.range}\` is not a semver range`);
      }
      const picked: { tag: string; version: semver.SemVer }[] = [];
      for (const tag of new Set(available)) {
        const version = semverOfTag(tag);
        if (version && semver.satisfies(version, selector.range)) picked.push({ tag, version });
      }
      return picked.sort((a, b) => semver.compare(a.version, b.version) || compareStrings(a.tag, b.tag)).map((p) => p.tag);
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(selector.pattern);
      } catch (err) {
        throw new AirlockError('MIRROR_INVALID', `\`${selector.pattern}\` is not a valid regular expression`, { cause: err });
      }
      return [...new Set(available)].filter((t) => re.test(t)).sort(compareStrings);
    }
  }
}

/** `1.2.3`, `v1.2.3`, `1.2.3-rc.1` → SemVer; `1.27`, `latest`, `stable-alpine` → null. */
function semverOfTag(tag: string): semver.SemVer | null {
  // semver.parse accepts one leading `v` or `=` and nothing looser in strict mode.
  if (!/^[vV]?\d/.test(tag)) return null;
  return semver.parse(tag.startsWith('V') ? tag.slice(1) : tag, { loose: false });
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
