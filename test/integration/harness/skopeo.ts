/** skopeo, the independent client: seeds upstream content and judges results. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SKOPEO_BIN = process.env.AIRLOCK_SKOPEO_BIN ?? '/usr/bin/skopeo';

function assertSkopeo(): void {
  if (!existsSync(SKOPEO_BIN)) {
    throw new Error(`skopeo is not installed (${SKOPEO_BIN} missing). Install it with: sudo apt-get update && sudo apt-get install -y skopeo docker-registry`);
  }
}

export async function skopeo(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  assertSkopeo();
  try {
    return await run(SKOPEO_BIN, ['--insecure-policy', ...args], { maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export interface RegistryFlags {
  skopeoFlags(side: 'src' | 'dest'): string[];
}

/** `skopeo copy` with --all and --preserve-digests from SRC to DST; flags from the test registries. */
export async function skopeoCopy(src: string, dst: string, o: { src?: RegistryFlags; dest?: RegistryFlags; all?: boolean } = {}): Promise<void> {
  await skopeo([
    'copy', ...(o.all === false ? [] : ['--all']), '--preserve-digests', '--retry-times', '2',
    ...(o.src?.skopeoFlags('src') ?? []), ...(o.dest?.skopeoFlags('dest') ?? []), src, dst,
  ]);
}

/** Raw manifest bytes as skopeo sees them. */
export async function skopeoInspectRaw(ref: string, reg?: RegistryFlags): Promise<Buffer> {
  assertSkopeo();
  const flags = (reg?.skopeoFlags('src') ?? []).map((f) => f.replace(/^--src-/, '--'));
  const { stdout } = await run(SKOPEO_BIN, ['inspect', '--raw', ...flags, ref], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

export async function skopeoListTags(ref: string, reg?: RegistryFlags): Promise<string[]> {
  const flags = (reg?.skopeoFlags('src') ?? []).map((f) => f.replace(/^--src-/, '--'));
  const { stdout } = await skopeo(['list-tags', ...flags, ref]);
  return (JSON.parse(stdout) as { Tags: string[] }).Tags;
}
