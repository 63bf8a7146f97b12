/**
 * `--help` / `-h` for the developer scripts: print the usage and exit 0 before anything starts
 * (a registry, a run of the reliability suites, a 1 GiB write).
 */
export function helpRequested(usage: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}
