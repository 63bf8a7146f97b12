import { TOOL_COMMIT, TOOL_VERSION } from '../../../version.js';
import type { CliContext } from '../../context.js';
import { runtimeInfo } from '../../runtime.js';

export interface VersionResult {
  readonly version: 1;
  readonly tool: { readonly name: 'airlock'; readonly version: string; readonly commit: string };
  readonly node: string;
  readonly platform: string;
  readonly singleExecutable: boolean;
  readonly executable: string;
  readonly script?: string;
}

export async function runVersion(_args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const rt = runtimeInfo();
  // Only the bundler records a commit (scripts/build-info.ts); `unknown` there means no git checkout.
  const commit = TOOL_COMMIT ?? 'unknown';
  const r: VersionResult = {
    version: 1,
    tool: { name: 'airlock', version: TOOL_VERSION, commit },
    node: rt.node,
    platform: rt.platform,
    singleExecutable: rt.singleExecutable,
    executable: rt.executable,
    ...(rt.script ? { script: rt.script } : {}),
  };
  ctx.outJson(r);
  ctx.out([
    `airlock  ${TOOL_VERSION}`,
    `commit   ${commit === 'unknown' ? 'unknown (built outside a git checkout)' : commit.endsWith('-dirty') ? `${commit.slice(0, -6)} (with uncommitted changes)` : commit}`,
    `node     ${rt.node} (${rt.platform})`,
    `runs as  ${rt.singleExecutable ? `single executable ${rt.executable}` : `node CLI: ${rt.executable} ${rt.script ?? ''}`.trimEnd()}`,
  ].join('\n'));
}
