import { setFlagsFromString } from 'node:v8';

/**
 * undici parses HTTP with llhttp, a WebAssembly module. V8 compiles it quickly (Liftoff), then,
 * once it is warm, again with TurboFan on a background thread: ~0.15 CPU-s and ~35 MB, and a
 * process cannot exit until that compile is done, so a short run (a no-op re-import: ~30
 * requests) waited ~50 ms at its end for code it never used. The optimised parser is not needed:
 * registry responses are small, and bodies pass through it in whole chunks (an import or an
 * export with and without the flag: the same CPU time). docs/BENCHMARKS.md, no-op re-import.
 *
 * So `--wasm-tiering-budget` is raised while llhttp is compiled (V8 gives each function of a
 * module its budget then), and put back to its default at once: V8 checks every code cache
 * against its flags, and with a flag left changed node refused its own embedded code cache for
 * each of its modules loaded afterwards (61 in a no-op re-import: http, tls, streams…),
 * compiled them from source and serialised a cache for each, and airlock's own code cache
 * (src/cli/launch.ts) was made under other flags than it is read under (docs/BENCHMARKS.md,
 * "No-op re-import, 2026-12-07 (afternoon)"). The default is known per V8 version; on a V8 not
 * listed the flag is left alone (llhttp then tiers up as in any node program).
 *
 * Called by undici's client-h1.js in the bundled builds (scripts/standalone-build.ts,
 * undiciPlugin): `llhttpInstance = compileLlhttp(lazyllhttp)`.
 */
const DEFAULT_TIERING_BUDGET: Readonly<Record<string, number>> = { '11.3': 1_800_000 };

export function compileLlhttp<T>(compile: () => T): T {
  const version = /^(\d+\.\d+)\./.exec(process.versions.v8)?.[1];
  const restore = version !== undefined ? DEFAULT_TIERING_BUDGET[version] : undefined;
  if (restore === undefined) return compile();
  setFlagsFromString('--wasm-tiering-budget=1000000000');
  try {
    return compile();
  } finally {
    setFlagsFromString(`--wasm-tiering-budget=${restore}`);
  }
}
