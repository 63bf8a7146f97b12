/**
 * Issue 23: --help as a new user reads it. Lines are wrapped between words at the terminal's
 * width (here $COLUMNS, as in a pipe), never inside one ("mir ror"): every word of every
 * description the commands declare appears whole in their help. Every command shows Examples.
 * `airlock completion bash|zsh` scripts, run in the real shells, complete commands, flags and choices.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AirlockCommand } from '../../src/cli/command.js';
import { bundleDiff } from '../../src/cli/commands/bundle-diff.js';
import { bundleExport } from '../../src/cli/commands/bundle-export.js';
import { bundleImport } from '../../src/cli/commands/bundle-import.js';
import { bundleInspect } from '../../src/cli/commands/bundle-inspect.js';
import { bundleRepair } from '../../src/cli/commands/bundle-repair.js';
import { bundleServe } from '../../src/cli/commands/bundle-serve.js';
import { bundleVerify } from '../../src/cli/commands/bundle-verify.js';
import { chartImages } from '../../src/cli/commands/chart-images.js';
import { completion } from '../../src/cli/commands/completion.js';
import { keysGenerate } from '../../src/cli/commands/keys-generate.js';
import { registryProbe } from '../../src/cli/commands/registry-probe.js';
import { sitePrune } from '../../src/cli/commands/site-prune.js';
import { siteRollback } from '../../src/cli/commands/site-rollback.js';
import { siteStatus } from '../../src/cli/commands/site-status.js';
import { version } from '../../src/cli/commands/version.js';
import { GLOBAL_FLAGS } from '../../src/cli/flags.js';
import { CLI_PATH, describeResult, runCli } from '../../fixtures/harness/cli.js';

export const COMMANDS: Record<string, AirlockCommand> = {
  'bundle export': bundleExport,
  'bundle import': bundleImport,
  'bundle verify': bundleVerify,
  'bundle inspect': bundleInspect,
  'bundle diff': bundleDiff,
  'bundle serve': bundleServe,
  'bundle repair': bundleRepair,
  'keys generate': keysGenerate,
  'registry probe': registryProbe,
  'chart images': chartImages,
  'site status': siteStatus,
  'site rollback': siteRollback,
  'site prune': sitePrune,
  version,
  completion,
};

/** What a command's builder declares: descriptions of options and positionals, and the Examples epilogue. */
export function declaredTexts(cmd: AirlockCommand): { describes: string[] } {
  const describes = [cmd.describe, ...Object.values(GLOBAL_FLAGS).map((o) => o.describe)];
  const add = (o: unknown): void => {
    const d = (o as { describe?: unknown } | undefined)?.describe;
    if (typeof d === 'string') describes.push(d);
  };
  const recorder: unknown = new Proxy({}, {
    get: (_t, prop) => (...args: unknown[]) => {
      if (prop === 'option' || prop === 'positional') add(args[1]);
      if (prop === 'options') for (const o of Object.values(args[0] as Record<string, unknown>)) add(o);
      if (prop === 'epilogue') describes.push(String(args[0]));
      return recorder;
    },
  });
  cmd.builder(recorder as Parameters<AirlockCommand['builder']>[0]);
  return { describes };
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
        const describes = declaredTexts(cmd).describes.map((d) => d.replace(/\$0/g, 'airlock'));
        // A word longer than a whole column may be cut; none of ours is.
        const broken = describes.flatMap(tokens).filter((w) => w.length < 30 && !shown.has(w));
        assert.deepEqual(broken, [], `words cut apart in ${name} --help:\n${r.stdout}`);
      });
    }
  }
});

describe('Examples', () => {
  for (const [name] of Object.entries(COMMANDS)) {
    it(`\`${name} --help\` ends with Examples, each an airlock command line under a comment`, async () => {
      const r = await runCli([...name.split(' '), '--help'], { env: { COLUMNS: '120' } });
      assert.equal(r.code, 0, describeResult(r));
      const tail = r.stdout.slice(r.stdout.indexOf('\nExamples:\n'));
      assert.ok(tail.length > 1, `no Examples in ${name} --help`);
      const lines = tail.trim().split('\n').slice(1);
      const comments = lines.filter((l) => l.startsWith('  # '));
      assert.ok(comments.length >= 1);
      for (const [i, l] of lines.entries()) {
        if (l.startsWith('  # ')) assert.match(lines[i + 1] ?? '', new RegExp(`\\bairlock ${name}\\b`), `example under "${l}"`);
      }
    });
  }
});

describe('Examples in the top-level and group help', () => {
  for (const args of [[], ['bundle'], ['keys'], ['registry'], ['chart'], ['site']]) {
    it(`\`airlock ${args.join(' ')} --help\` shows Examples`, async () => {
      const r = await runCli([...args, '--help'], { env: { COLUMNS: '120' } });
      assert.equal(r.code, 0, describeResult(r));
      assert.match(r.stdout, /\nExamples:\n {2}# .+\n {2}(airlock|source <\(airlock) /);
    });
  }
});

describe('airlock completion', () => {
  let bin: string;
  before(async () => {
    // `airlock` on PATH, as an installed one is: the scripts call it by name.
    bin = await mkdtemp(join(tmpdir(), 'airlock-completion-'));
    await writeFile(join(bin, 'airlock'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_PATH)} "$@"\n`, { mode: 0o755 });
  });
  after(async () => rm(bin, { recursive: true, force: true }));

  const shell = (program: string, args: string[], script: string): string =>
    execFileSync(program, [...args, '-c', script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });

  it('bash: the sourced script completes commands, subcommands, flags and choices', () => {
    const complete = (words: string[]): string[] => shell('bash', ['--norc', '--noprofile'], [
      'source <(airlock completion bash)',
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`,
      '_airlock_completions',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n')).split('\n').filter((l) => l.length > 0);
    assert.deepEqual(complete(['airlock', 'bun']), ['bundle']);
    assert.deepEqual(complete(['airlock', 'bundle', 'ex']), ['export']);
    assert.deepEqual(complete(['airlock', 'bundle', 'export', '--spl']), ['--split-size']);
    assert.deepEqual(complete(['airlock', 'bundle', 'import', 'x.tar', '--layout', '']).sort(), ['flat', 'scoped']);
    const shells = complete(['airlock', 'completion', '']);
    assert.ok(shells.includes('bash') && shells.includes('zsh'), shells.join(' '));
    const flags = complete(['airlock', 'bundle', 'verify', '--']);
    assert.ok(flags.includes('--verify-key') && flags.includes('--key'), flags.join(' '));
    assert.ok(!flags.includes('--q'), 'one-letter aliases are not offered as --q');
  });

  it('zsh: the script hands the words to airlock and its answers to _describe', { skip: !hasZsh() && 'zsh is not installed' }, () => {
    // Outside a completion widget, _describe, _files and compdef are stand-ins that print what they get.
    const out = shell('zsh', ['-f'], [
      'compdef() { print "compdef $*" }',
      '_describe() { print -l -- "${(@P)2}" }',
      '_files() { print FILES }',
      'source <(airlock completion zsh)',
      'words=(airlock bundle ex); CURRENT=3; _airlock',
      'words=(airlock bundle export --spl); CURRENT=4; _airlock',
    ].join('\n'));
    const lines = out.split('\n');
    assert.ok(lines.includes('compdef _airlock airlock'), out);
    assert.ok(lines.some((l) => l.startsWith('export:pin, download')), out);
    assert.ok(lines.some((l) => l.startsWith('--split-size:')), out);
  });

  it('rejects another shell with a usage error (exit 2)', async () => {
    const r = await runCli(['completion', 'fish']);
    assert.equal(r.code, 2, describeResult(r));
  });
});

function hasZsh(): boolean {
  try {
    execFileSync('zsh', ['-fc', 'true']);
    return true;
  } catch {
    return false;
  }
}
