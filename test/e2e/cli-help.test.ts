/**
 * Issue 23: --help as a new user reads it. Lines are wrapped between words at the terminal's
 * width (here $COLUMNS, as in a pipe), never inside one ("mir ror"): every word of every
 * description the commands declare appears whole in their help.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AirlockCommand } from '../../src/cli/command.js';
import { bundleDiff } from '../../src/cli/commands/bundle-diff.js';
import { bundleExport } from '../../src/cli/commands/bundle-export.js';
import { bundleImport } from '../../src/cli/commands/bundle-import.js';
import { bundleInspect } from '../../src/cli/commands/bundle-inspect.js';
import { bundleServe } from '../../src/cli/commands/bundle-serve.js';
import { bundleVerify } from '../../src/cli/commands/bundle-verify.js';
import { chartImages } from '../../src/cli/commands/chart-images.js';
import { keysGenerate } from '../../src/cli/commands/keys-generate.js';
import { registryProbe } from '../../src/cli/commands/registry-probe.js';
import { GLOBAL_FLAGS } from '../../src/cli/flags.js';
import { describeResult, runCli } from '../integration/harness/cli.js';

export const COMMANDS: Record<string, AirlockCommand> = {
  'bundle export': bundleExport,
  'bundle import': bundleImport,
  'bundle verify': bundleVerify,
  'bundle inspect': bundleInspect,
  'bundle diff': bundleDiff,
  'bundle serve': bundleServe,
  'keys generate': keysGenerate,
  'registry probe': registryProbe,
  'chart images': chartImages,
};

/** What a command's builder declares: descriptions of options and positionals, and examples. */
export function declaredTexts(cmd: AirlockCommand): { describes: string[]; examples: [string, string][] } {
  const describes = [cmd.describe, ...Object.values(GLOBAL_FLAGS).map((o) => o.describe)];
  const examples: [string, string][] = [];
  const add = (o: unknown): void => {
    const d = (o as { describe?: unknown } | undefined)?.describe;
    if (typeof d === 'string') describes.push(d);
  };
  const recorder: unknown = new Proxy({}, {
    get: (_t, prop) => (...args: unknown[]) => {
      if (prop === 'option' || prop === 'positional') add(args[1]);
      if (prop === 'options') for (const o of Object.values(args[0] as Record<string, unknown>)) add(o);
      if (prop === 'example') examples.push([String(args[0]), String(args[1])]);
      return recorder;
    },
  });
  cmd.builder(recorder as Parameters<AirlockCommand['builder']>[0]);
  return { describes, examples };
}

const tokens = (text: string): string[] => text.split(/\s+|(?=\[)/).filter((t) => t.length > 0);

describe('--help wrapping', () => {
  for (const columns of [80, 100]) {
    for (const [name, cmd] of Object.entries(COMMANDS)) {
      it(`\`${name} --help\` at ${columns} columns breaks lines only between words`, async () => {
        const r = await runCli([...name.split(' '), '--help'], { env: { COLUMNS: String(columns) } });
        assert.equal(r.code, 0, describeResult(r));
        for (const line of r.stdout.split('\n')) assert.ok(line.length <= columns, `longer than ${columns}: ${line}`);
        const shown = new Set(tokens(r.stdout));
        const { describes } = declaredTexts(cmd);
        // A word longer than a whole column may be cut; none of ours is.
        const broken = describes.flatMap(tokens).filter((w) => w.length < 30 && !shown.has(w));
        assert.deepEqual(broken, [], `words cut apart in ${name} --help:\n${r.stdout}`);
      });
    }
  }
});
