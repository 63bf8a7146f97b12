import { setMaxListeners } from 'node:events';
import type { Argv } from 'yargs';
import yargs from './yargs-cjs.cjs';
import { AirlockError, EXIT, exitCodeOf } from '../errors.js';
import { examples, type AirlockCommand } from './command.js';
import type { CliContext, GlobalArgs } from './context.js';
import { GLOBAL_FLAGS } from './flags.js';
import { bundleDiff } from './commands/bundle-diff.js';
import { bundleExport } from './commands/bundle-export.js';
import { bundleImport } from './commands/bundle-import.js';
import { bundleInspect } from './commands/bundle-inspect.js';
import { bundleServe } from './commands/bundle-serve.js';
import { bundleVerify } from './commands/bundle-verify.js';
import { bundleRepair } from './commands/bundle-repair.js';
import { chartImages } from './commands/chart-images.js';
import { keysGenerate } from './commands/keys-generate.js';
import { registryProbe } from './commands/registry-probe.js';
import { siteStatus } from './commands/site-status.js';
import { siteRollback } from './commands/site-rollback.js';
import { sitePrune } from './commands/site-prune.js';
import { version } from './commands/version.js';
import { completion } from './commands/completion.js';
import { errorToJson, formatError } from './render/errors.js';
import { createStderrLogger } from './render/logger.js';
import { TOOL_VERSION } from '../version.js';

// No V8 flag is set here: a flag left changed makes V8 refuse node's and airlock's code caches.
// llhttp's `--liftoff-only` is set only while undici compiles it (src/registry/llhttp-tiering.ts).

const GROUPS: Record<string, { describe: string; commands: AirlockCommand[]; examples: [string, string][] }> = {
  bundle: {
    describe: 'export, import, verify, inspect, diff, serve and repair bundles',
    commands: [bundleExport, bundleImport, bundleVerify, bundleInspect, bundleDiff, bundleServe, bundleRepair],
    examples: [
      ['$0 bundle export -f mirror.yaml -o site.tar.zst --key dmz.key', 'connected side: a signed bundle'],
      ['$0 bundle import site.tar.zst --to harbor.intern/mirror --key dmz.pub', 'isolated side: verify, then push'],
    ],
  },
  keys: { describe: 'signing keys', commands: [keysGenerate], examples: [['$0 keys generate --out dmz', 'dmz.key and dmz.pub']] },
  registry: { describe: 'registry tools', commands: [registryProbe], examples: [['$0 registry probe harbor.intern/mirror', 'what the target supports']] },
  chart: { describe: 'Helm chart tools', commands: [chartImages], examples: [['$0 chart images cloudgrid-1.4.2.tgz', 'the images a chart names']] },
  site: {
    describe: 'operate a mirror over time: freshness, rollback, pruning',
    commands: [siteStatus, siteRollback, sitePrune],
    examples: [['$0 site status --max-age 36h', 'exit 1 when no import succeeded in 36 hours']],
  },
};

const TOP_EXAMPLES: [string, string][] = [
  ['$0 bundle export -f mirror.yaml -o site.tar.zst --key dmz.key', 'connected side: pin, download and sign one bundle'],
  ['$0 bundle verify site.tar.zst --key dmz.pub', 'anywhere, offline: the signature and every digest'],
  ['$0 bundle import site.tar.zst --to harbor.intern/mirror --key dmz.pub', 'isolated side: verify, then push into the site registry'],
  ['source <($0 completion bash)', 'complete commands and flags in bash'],
];

/** Commands outside the groups: `airlock version`, `airlock completion`. */
const TOP_LEVEL: AirlockCommand[] = [version, completion];

function createContext(args: GlobalArgs, signal: AbortSignal): CliContext {
  const json = Boolean(args.json);
  const quiet = Boolean(args.quiet);
  const verbose = Boolean(args.verbose) && !quiet;
  return {
    json,
    quiet,
    verbose,
    interactive: Boolean(process.stderr.isTTY) && !quiet && !json,
    logger: createStderrLogger({ quiet, verbose }),
    signal,
    out: (text) => {
      if (!json) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    outJson: (doc) => {
      if (json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    },
    status: (text) => {
      if (!quiet) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}

/** --help's width: the terminal's, else $COLUMNS (as shells export it), else 100; from 80 to 120. */
function helpWidth(): number {
  const env = Number.parseInt(process.env.COLUMNS ?? '', 10);
  const columns = process.stdout.columns || (Number.isInteger(env) && env > 0 ? env : 100);
  return Math.max(80, Math.min(120, columns));
}

/** Build the parser; exported for tests. Handlers record what to run instead of running it. */
export function buildParser(argv: string[], onRun: (cmd: AirlockCommand, args: Record<string, unknown>) => void): Argv {
  let y = yargs(argv)
    .scriptName('airlock')
    .usage('$0 <command>\n\nCarry container content across an air gap.')
    .options(GLOBAL_FLAGS)
    .strict()
    .demandCommand(1, 'name a command: bundle, keys, registry, chart, site, version or completion')
    .recommendCommands()
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(helpWidth())
    .epilogue(examples(TOP_EXAMPLES))
    .fail((msg, err) => {
      if (err instanceof AirlockError) throw err;
      throw new AirlockError('USAGE', msg || err?.message || 'invalid usage', { hint: 'see `airlock --help`' });
    });
  for (const [group, { describe, commands, examples: groupExamples }] of Object.entries(GROUPS)) {
    y = y.command(group, describe, (g) => {
      let sub = g.usage(`$0 ${group} <command>`).epilogue(examples(groupExamples)).demandCommand(1, `name a ${group} command`).strict();
      for (const c of commands) {
        sub = sub.command(c.command, c.describe, (b) => c.builder(b), (args) => onRun(c, args as Record<string, unknown>));
      }
      return sub;
    });
  }
  for (const c of TOP_LEVEL) {
    y = y.command(c.command, c.describe, (b) => c.builder(b), (args) => onRun(c, args as Record<string, unknown>));
  }
  return y;
}

/**
 * yargs 17 renders the chosen command's whole --help right after its handler returns, to cache it
 * for a later `showHelp()` (command.js `cacheHelpMessage`). Nothing here calls showHelp after a
 * command ran (`--help` renders its own, errors go through `.fail`), and the render cost 13–28 ms of
 * CPU on every run of `bundle import` (docs/BENCHMARKS.md, no-op re-import, 2026-12-07).
 */
function skipHelpCache(y: Argv): void {
  type Internal = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } };
  const usage = (y as unknown as Internal).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  // Every request and stream in flight listens on this one signal: hundreds at once is normal.
  setMaxListeners(0, controller.signal);
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new AirlockError('ABORTED', `interrupted by ${sig}`, { hint: 're-run the same command to resume' }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    let chosen: { cmd: AirlockCommand; args: Record<string, unknown> } | undefined;
    const parser = buildParser(argv, (cmd, args) => {
      chosen = { cmd, args };
    });
    skipHelpCache(parser);
    await parser.parseAsync();
    if (!chosen) return EXIT.ok; // --help / --version
    const ctx = createContext(chosen.args as GlobalArgs, controller.signal);
    await chosen.cmd.run(chosen.args, ctx);
    return ctx.exitCode ?? EXIT.ok;
  } catch (err) {
    const error = controller.signal.aborted && !(err instanceof AirlockError) ? controller.signal.reason : err;
    if (wantsJson) process.stdout.write(`${JSON.stringify(errorToJson(error), null, 2)}\n`);
    process.stderr.write(`${formatError(error, verbose)}\n`);
    if (error instanceof AirlockError && error.code === 'USAGE' && !wantsJson) {
      process.stderr.write('  run `airlock --help` for the list of commands and flags\n');
    }
    return exitCodeOf(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// No top-level await: the single executable runs this module as one CommonJS script (scripts/release.ts).
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
