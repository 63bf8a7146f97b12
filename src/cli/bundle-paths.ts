/**
 * The bundle paths of `import`/`verify`/`serve`, parity volumes (`OUT.par001`, from `export
 * --parity`) left out with a note: a shell glob such as `site.*` names them too, and they are for
 * `airlock bundle repair` only.
 */
export function bundlePaths(args: Record<string, unknown>, logger: { info(msg: string): void }): string[] {
  const all = (args.bundle as string[] | undefined) ?? [];
  const parity = all.filter((p) => /\.par\d{3}$/.test(p));
  for (const p of parity) logger.info(`leaving out ${p}: a parity volume, for \`airlock bundle repair\``);
  const rest = all.filter((p) => !parity.includes(p));
  return rest.length > 0 ? rest : all;
}
