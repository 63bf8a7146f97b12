/**
 * `npm run demo`: a full export → verify → import on loopback, with nothing else to set up.
 * Starts an upstream registry (plain HTTP) and a site registry (TLS with a test CA + basic auth),
 * seeds the `small` fixtures upstream with skopeo, makes a signing key, exports a signed bundle,
 * verifies it offline, imports it, and prints the image map.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../fixtures/harness/registry.js';
import { seedRegistry } from '../fixtures/harness/fixtures.js';

const CLI = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

function step(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

async function airlock(args: readonly string[], input?: string): Promise<void> {
  process.stdout.write(`$ airlock ${args.join(' ')}${input !== undefined ? '   (password on stdin)' : ''}\n`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [input !== undefined ? 'pipe' : 'ignore', 'inherit', 'inherit'] });
    if (input !== undefined) child.stdin!.end(input);
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`airlock ${args[0]} ${args[1] ?? ''} exited with ${code}`);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-demo-'));
  const registries: TestRegistry[] = [];
  try {
    step('starting an upstream registry and a site registry on 127.0.0.1');
    const upstream = await startRegistry();
    registries.push(upstream);
    const site = await startRegistry({ tls: true, auth: 'htpasswd' });
    registries.push(site);
    process.stdout.write(`upstream: http://${upstream.host}   site: https://${site.host} (TLS, basic auth)\n`);

    step('seeding the upstream with the small fixtures (skopeo)');
    const seeded = await seedRegistry(upstream, 'small');
    process.stdout.write(`${seeded.images.length} roots: ${seeded.images.filter((i) => i.tag).map((i) => `${i.repository}:${i.tag}`).join(', ')}\n`);

    const mirror = join(work, 'mirror.yaml');
    const tagged = seeded.images.filter((i) => i.tag && (i.kind === 'image' || i.kind === 'index'));
    await writeFile(mirror, [
      'version: 1',
      'registries:',
      `  ${upstream.host}: { tls: plain-http }`,
      'images:',
      ...tagged.map((i) => i.name === 'demo/app' && i.tag === '1.0'
        ? `  - ref: ${upstream.host}/${i.repository}:${i.tag}\n    verify: { key: ${seeded.fixtures.publicKeyPath} }`
        : `  - ${upstream.host}/${i.repository}:${i.tag}`),
      'charts:',
      ...seeded.images.filter((i) => i.kind === 'chart').map((i) => `  - ref: oci://${upstream.host}/${i.repository}\n    version: ${i.tag}`),
      '',
    ].join('\n'));
    step(`the mirror list (${mirror})`);
    process.stdout.write(await readFile(mirror, 'utf8'));

    step('making a signing key for the DMZ');
    await airlock(['keys', 'generate', '--out', join(work, 'dmz')]);

    step('export (connected side): pin, verify vendor signature, download once, sign');
    const bundle = join(work, 'site.tar.zst');
    await airlock(['bundle', 'export', '-f', mirror, '-o', bundle, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache')]);

    step('verify (isolated side, offline)');
    await airlock(['bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--upstream']);

    step('inspect');
    await airlock(['bundle', 'inspect', bundle, '--verify-key', join(work, 'dmz.pub')]);

    step('import into the site registry (TLS with its CA, basic auth)');
    const out = join(work, 'out');
    await airlock([
      'bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--verify-key', join(work, 'dmz.pub'),
      '--dest-cert-dir', site.ca!.certDir, '--dest-username', site.username!, '--dest-password-stdin',
      '--out-dir', out, '--state-dir', join(work, 'state'), '--require-upstream-signatures',
    ], `${site.password}\n`);

    step(`image map (${join(out, 'image-map.txt')})`);
    process.stdout.write(await readFile(join(out, 'image-map.txt'), 'utf8'));
    step('done: the same digests upstream and at the site; mirror configs and receipt are in the out dir');
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    if (!process.env.AIRLOCK_DEMO_KEEP) await rm(work, { recursive: true, force: true });
    else process.stdout.write(`kept ${work}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
