/**
 * A signed bundle of the `small` fixtures made by the built CLI, for tests of what reads bundles
 * (serve, inspect, verify): upstream registry seeded with skopeo, a key pair, one export per form.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from './registry.js';
import { seedRegistry, type SeedResult } from './fixtures.js';

export const CLI = fileURLToPath(new URL('../../../../bin/airlock.js', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the built CLI to completion. */
export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface SignedBundles {
  readonly work: string;
  readonly upstream: TestRegistry;
  readonly seeded: SeedResult;
  readonly publicKey: string;
  readonly privateKey: string;
  /** Export to `PATH` (form by extension: .tar, .tar.zst, or a directory), signed, sharing one cache. */
  exportTo(path: string, extra?: readonly string[]): Promise<string>;
  dispose(): Promise<void>;
}

export async function makeSignedBundles(): Promise<SignedBundles> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-bundles-'));
  const upstream = await startRegistry();
  try {
    const seeded = await seedRegistry(upstream, 'small');
    const keys = await runCli(['keys', 'generate', '--out', join(work, 'dmz')]);
    if (keys.code !== 0) throw new Error(`keys generate failed: ${keys.stderr}`);
    const tagged = seeded.images.filter((i) => i.tag && (i.kind === 'image' || i.kind === 'index'));
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1',
      'registries:',
      `  ${upstream.host}: { tls: plain-http }`,
      'images:',
      ...tagged.map((i) => `  - ${upstream.host}/${i.repository}:${i.tag}`),
      'charts:',
      ...seeded.images.filter((i) => i.kind === 'chart').map((i) => `  - ref: oci://${upstream.host}/${i.repository}\n    version: ${i.tag}`),
      '',
    ].join('\n'));
    return {
      work, upstream, seeded, publicKey: join(work, 'dmz.pub'), privateKey: join(work, 'dmz.key'),
      exportTo: async (path, extra = []) => {
        const r = await runCli(['bundle', 'export', '-f', mirror, '-o', path, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), '--quiet', ...extra]);
        if (r.code !== 0) throw new Error(`export failed (${r.code}): ${r.stderr}`);
        return path;
      },
      dispose: async () => {
        await upstream.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await upstream.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
