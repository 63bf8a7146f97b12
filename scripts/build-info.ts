/**
 * What a build records about itself (src/version.ts): the version from package.json and the
 * commit (`git rev-parse HEAD`, `-dirty` when tracked files have uncommitted changes, `unknown`
 * outside a git checkout or without git). Used by scripts/bundle-cli.mjs and scripts/release.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
}

export function readBuildInfo(root: string): BuildInfo {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, commit: gitCommit(root) };
}

function gitCommit(root: string): string {
  const git = (args: string[]): string =>
    execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git(['rev-parse', 'HEAD']);
    if (!/^[0-9a-f]{40,64}$/.test(head)) return 'unknown';
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? head : `${head}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** esbuild `define`s for src/version.ts. */
export function buildDefines(info: BuildInfo): Record<string, string> {
  return { AIRLOCK_BUILD_VERSION: JSON.stringify(info.version), AIRLOCK_BUILD_COMMIT: JSON.stringify(info.commit) };
}
