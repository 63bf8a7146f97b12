import { readFileSync } from 'node:fs';

/** The tool version from package.json, recorded in every bundle. */
export const TOOL_VERSION: string = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'airlock' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate: src/ when run from source, dist/src/ when built
    }
  }
  return '0.0.0';
})();
