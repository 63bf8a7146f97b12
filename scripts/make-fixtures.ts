/**
 * `npm run fixtures -- --profile small|large [--out DIR] [--seed N]`: generate (or reuse) test
 * content as an OCI image layout plus fixtures.json. Prints the directory and a timing summary.
 */
import { parseArgs } from 'node:util';
import { formatBytes } from '../src/util/index.js';
import { DEFAULT_SEED, PROFILES, ensureFixtures, type ProfileName } from '../fixtures/generate/index.js';

function usage(message: string): never {
  process.stderr.write(`error: ${message}\nusage: make-fixtures --profile small|large [--out DIR] [--seed N] [--verbose]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        profile: { type: 'string', default: 'small' },
        out: { type: 'string' },
        seed: { type: 'string', default: String(DEFAULT_SEED) },
        verbose: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const profile = values.profile as ProfileName;
  if (!PROFILES.includes(profile)) usage(`unknown profile "${values.profile}"`);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) usage(`--seed must be an integer, got "${values.seed}"`);

  const started = performance.now();
  const result = await ensureFixtures({
    profile,
    seed,
    ...(values.out ? { dir: values.out } : {}),
    onEvent: (e) => {
      if (!values.verbose) return;
      if (e.type === 'layer') process.stderr.write(`layer ${e.id}: ${formatBytes(e.size)} in ${e.ms} ms\n`);
      else process.stderr.write(`${e.reference} ${e.digest}\n`);
    },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const d = result.description;
  process.stderr.write(
    `${result.generated ? 'generated' : 'reused'} profile ${d.profile} seed ${d.seed}: ${d.images.length} roots, ` +
    `${formatBytes(d.totalBytes)} unique in ${seconds} s\n`,
  );
  process.stdout.write(`${result.dir}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
