import { cachedDataVersionTag, setFlagsFromString } from 'node:v8';

/**
 * undici parses HTTP with llhttp, a WebAssembly module. V8 compiles it quickly (Liftoff), then,
 * once it is warm, again with TurboFan on a background thread: ~0.15–0.4 CPU-s and ~35 MB, and a
 * process cannot exit until that compile is done, so a short run (a no-op re-import: ~30
 * requests) waited ~50 ms at its end for code it never used. The optimised parser is not needed:
 * registry responses are small, and bodies pass through it in whole chunks.
 *
 * So llhttp is compiled and instantiated under `--liftoff-only`, which V8 applies to the module
 * it compiles (its functions are compiled lazily later, still by Liftoff, and never tier up),
 * and the flag is put back at once. A raised `--wasm-tiering-budget` (kept before) only put the
 * tier-up off: a full import's ~300 requests used 1e9 up, and `--trace-wasm-compilation-times`
 * showed llhttp's largest function compiled by TurboFan (620 ms on a loaded machine); under
 * `--liftoff-only` at compile time it showed none (docs/BENCHMARKS.md, "Import client CPU,
 * 2026-12-07 (afternoon)"). The flags must not stay changed: V8 checks every code cache against
 * its flags, and with a flag left changed node refused its own embedded code cache for each of
 * its modules loaded afterwards (61 in a no-op re-import: http, tls, streams…), and airlock's own
 * code cache (src/cli/launch.ts) would be made under other flags than it is read under, so
 * refused by every run and written again at its exit (docs/BENCHMARKS.md, "No-op re-import,
 * 2026-12-07 (afternoon)" and "(evening)").
 *
 * Clearing `--liftoff-only` is not enough: V8 applies a flag's implications when it is set (here
 * `--no-wasm-tier-up` and `--no-wasm-dynamic-tiering`, V8 11.3 in node 20) and does not undo
 * them when it is cleared. Left so, they kept llhttp off TurboFan but made every run refuse
 * airlock's code cache and write it again at exit; set back, the functions V8 compiled lazily
 * after the compile carried tier-up checks again, and a full import compiled llhttp's largest
 * function with TurboFan (274 ms, `--trace-wasm-compilation-times`). So the module is compiled
 * eagerly (`--no-wasm-lazy-compilation`, ~8 ms of Liftoff for its ~50 functions), all of it
 * under `--liftoff-only`, and every flag is set back afterwards: the implied ones only when
 * `v8.cachedDataVersionTag()` (V8's version, flag hash and CPU features: what a code cache is
 * checked against) says they stayed changed, so a V8 that implies nothing is not handed flags
 * it may not know (an unknown flag is an error on stderr). Measured 2026-12-07 (evening): no
 * TurboFan compile in a full import, the tag the same as before, the code cache accepted.
 * test/unit/registry/llhttp-tiering.test.ts holds the tag and the cache under the node running it.
 *
 * Called by undici's client-h1.js in the bundled builds (scripts/standalone-build.ts,
 * undiciPlugin): `llhttpInstance = compileLlhttp(lazyllhttp)`.
 */
export function compileLlhttp<T>(compile: () => T): T {
  const before = cachedDataVersionTag();
  setFlagsFromString('--liftoff-only');
  setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return compile();
  } finally {
    setFlagsFromString('--no-liftoff-only');
    setFlagsFromString('--wasm-lazy-compilation');
    if (cachedDataVersionTag() !== before) for (const flag of IMPLIED) setFlagsFromString(flag);
  }
}

/** What setting `--liftoff-only` turns off (on by default in V8 11–13), set back after the compile. */
const IMPLIED = ['--wasm-tier-up', '--wasm-dynamic-tiering'];
