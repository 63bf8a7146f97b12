import { basename } from 'node:path';
import { AirlockError, MultiError } from '../errors.js';

/** One line of a checksums file. */
export interface ChecksumLine {
  /** The name as listed, without `*`/`./`. */
  readonly listed: string;
  /** Its last path component: release files are delivered flat, so they are matched by it. */
  readonly name: string;
  readonly sha256: string;
  readonly line: number;
}

export interface ParsedChecksums {
  readonly lines: readonly ChecksumLine[];
  /** 1-based numbers of lines that are neither blank, a comment, nor a checksum line (sha256sum -c warns and skips them too). */
  readonly malformed: readonly number[];
}

/** A checksums file is text of a line per file; anything larger is not one. */
export const MAX_CHECKSUMS_BYTES = 16 * 1024 * 1024;

/**
 * `sha256sum` output (`HEX  NAME`, `HEX *NAME` for binary mode) and the BSD form `shasum --tag`
 * writes (`SHA256 (NAME) = HEX`), as `sha256sum -c` reads them. Names written with a backslash
 * escape (sha256sum's `\` prefix for names holding `\n` or `\\`) are unescaped.
 */
export function parseChecksums(text: string): ParsedChecksums {
  const lines: ChecksumLine[] = [];
  const malformed: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    let hex: string | undefined;
    let listed: string | undefined;
    const gnu = /^(\\?)([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    const bsd = /^(\\?)SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
    if (gnu) {
      hex = gnu[2];
      listed = gnu[1] ? unescape(gnu[3]!) : gnu[3];
    } else if (bsd) {
      hex = bsd[3];
      listed = bsd[1] ? unescape(bsd[2]!) : bsd[2];
    }
    if (hex === undefined || listed === undefined) {
      malformed.push(i + 1);
      return;
    }
    const clean = listed.replace(/^(?:\.\/)+/, '');
    lines.push({ listed: clean, name: basename(clean), sha256: hex.toLowerCase(), line: i + 1 });
  });
  return { lines, malformed };
}

function unescape(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** A file of the release set: its delivered name and the sha256 of its bytes. */
export interface ReleaseFile {
  readonly name: string;
  readonly sha256: string;
}

export interface ReleaseSetCheck {
  readonly verified: string[];
  readonly missing: string[];
  readonly unlisted: string[];
}

/**
 * Check every file of the release set that `checksumsName` lists against it: a different sha256 is
 * DIGEST_MISMATCH (exit 3, every such file named); names it lists that the set does not carry are
 * returned as `missing` (the caller reports them), files it does not list as `unlisted`.
 */
export function checkReleaseSet(text: string, checksumsName: string, files: readonly ReleaseFile[], where: string): ReleaseSetCheck {
  const parsed = parseChecksums(text);
  if (parsed.lines.length === 0) {
    throw new AirlockError('DIGEST_INVALID', `${checksumsName} lists no sha256 checksum${parsed.malformed.length ? ` (${parsed.malformed.length} line(s) in another format, first at line ${parsed.malformed[0]})` : ''}`, {
      where, hint: 'checksums: names a sha256sum file (`HEX  NAME` per line); list other files with path: or url:',
    });
  }
  const byName = new Map<string, ChecksumLine[]>();
  for (const l of parsed.lines) byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  const problems: AirlockError[] = [];
  const verified: string[] = [];
  const unlisted: string[] = [];
  const carried = new Set<string>();
  for (const f of files) {
    if (f.name === checksumsName) continue;
    carried.add(f.name);
    const listed = byName.get(f.name);
    if (!listed) {
      unlisted.push(f.name);
      continue;
    }
    const bad = listed.find((l) => l.sha256 !== f.sha256);
    if (bad) {
      problems.push(new AirlockError('DIGEST_MISMATCH', `${f.name} has sha256 ${f.sha256}, but ${checksumsName} line ${bad.line} lists ${bad.sha256}`, { where: `${checksumsName}:${bad.line}` }));
    } else {
      verified.push(f.name);
    }
  }
  if (problems.length > 0) {
    const hint = 'a file of the release set is not the one the vendor published (damaged, altered, or from another version): fetch it again; do not carry it';
    if (problems.length === 1) throw new AirlockError('DIGEST_MISMATCH', problems[0]!.message, { where: problems[0]!.where ?? where, hint });
    throw new MultiError('DIGEST_MISMATCH', `${problems.length} files of the release set differ from ${checksumsName}`, problems, { where, hint });
  }
  const missing = [...new Set(parsed.lines.filter((l) => !carried.has(l.name) && l.name !== checksumsName).map((l) => l.listed))];
  return { verified: verified.sort(), missing: missing.sort(), unlisted: unlisted.sort() };
}
