import { readFileSync } from 'node:fs';

/**
 * What the build records (esbuild `define` in scripts/bundle-cli.mjs and scripts/release.ts):
 * the version from package.json and the commit from `git rev-parse HEAD`, with `-dirty` when the
 * work tree had uncommitted changes; `unknown` when it was built outside a git checkout. The
 * compiled modules (dist/src, what tests import) have neither, and read package.json instead.
 */
declare const AIRLOCK_BUILD_VERSION: string | undefined;
declare const AIRLOCK_BUILD_COMMIT: string | undefined;

/** The tool version from package.json, recorded in every bundle. */
export const TOOL_VERSION: string =
  typeof AIRLOCK_BUILD_VERSION === 'string' ? AIRLOCK_BUILD_VERSION : versionFromPackageJson();

/** The commit the tool was built from; undefined when not built by the bundler. */
export const TOOL_COMMIT: string | undefined = typeof AIRLOCK_BUILD_COMMIT === 'string' ? AIRLOCK_BUILD_COMMIT : undefined;

function versionFromPackageJson(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'airlock' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate: src/ when run from source, dist/src/ when built
    }
  }
  return '0.0.0';
}

/**
 * The release file name of the single executable: `airlock-<version>-<os>-<arch>`, e.g.
 * `airlock-0.1.0-linux-x64` (scripts/release.ts writes it; `--include-tool` carries it).
 */
export function executableName(version: string, platform: string): string {
  return `airlock-${version}-${platform}`;
}
