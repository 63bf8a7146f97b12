/**
 * `export --include-tool`: which executable is "this tool".
 * - In the single executable: itself (process.execPath).
 * - In the node CLI of a checkout: the single executable `npm run release` built there
 *   (dist/release/airlock-<version>-<os>-<arch>), but only if it says it is this very build: it
 *   is run once (`version --json`) and must report this version and this commit. A CLI with no
 *   such file (an npm install, or a checkout without a release) refuses, with the way out:
 *   carrying node_modules or the npm package would not run where npm and Node are missing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ToolToCarry } from '../ops/index.js';
import { TOOL_COMMIT, TOOL_VERSION, executableName } from '../version.js';
import { runtimeInfo } from './runtime.js';

export async function resolveToolToCarry(logger: Logger): Promise<ToolToCarry> {
  const rt = runtimeInfo();
  const file = executableName(TOOL_VERSION, rt.platform);
  const base = { file, platform: rt.platform, version: TOOL_VERSION, ...(TOOL_COMMIT ? { commit: TOOL_COMMIT } : {}) };
  if (rt.singleExecutable) return { ...base, path: rt.executable };

  const root = packageRoot();
  const candidate = root ? join(root, 'dist', 'release', file) : undefined;
  const hint = `run the export with the single executable (${file}), or build it in this checkout first with \`npm run release\``;
  if (!candidate || !existsSync(candidate)) {
    throw new AirlockError('USAGE', '--include-tool carries the single executable, and this node CLI has none built beside it', {
      ...(candidate ? { where: candidate } : {}), hint,
    });
  }
  let said: { tool?: { version?: string; commit?: string }; singleExecutable?: boolean };
  try {
    // Loaded here: node:child_process costs every other command's start-up ~3 ms (bundle import
    // reaches this module through bundle export's flags).
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)(candidate, ['version', '--json'], { env: {}, timeout: 60_000 });
    said = JSON.parse(stdout) as typeof said;
  } catch (err) {
    throw new AirlockError('USAGE', `${candidate} does not run as an airlock executable`, { where: candidate, cause: err, hint });
  }
  if (said.singleExecutable !== true || said.tool?.version !== TOOL_VERSION || said.tool.commit !== (TOOL_COMMIT ?? 'unknown')) {
    throw new AirlockError('USAGE', `${candidate} is another build (${said.tool?.version ?? '?'} at ${said.tool?.commit ?? '?'}) than this CLI (${TOOL_VERSION} at ${TOOL_COMMIT ?? 'unknown'})`, {
      where: candidate, hint: 'rebuild it with `npm run release`, so the executable carried is the tool that wrote the bundle',
    });
  }
  if (!TOOL_COMMIT || TOOL_COMMIT === 'unknown' || TOOL_COMMIT.endsWith('-dirty')) {
    logger.warn(`${file} and this CLI were built from ${TOOL_COMMIT ?? 'an unknown commit'}: with uncommitted changes (or outside git) the same commit does not prove the same code`);
  }
  return { ...base, path: candidate };
}

/** The directory of airlock's package.json above this module (dist/cli/… or dist/src/cli/…). */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = dirname(dir);
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'airlock.js'))) return dir;
  }
  return undefined;
}
