/**
 * Issue 19, deploy-ready outputs, judged from outside with a real registry and skopeo:
 * - `--values`: seed 004's release-values.yaml (global.imageRegistry + repository + digest) →
 *   release-values.mirrored.yaml, whose references skopeo finds in the site registry with the same
 *   digests; comments and layout kept;
 * - `--compose`: seed 000's docker-compose.yml with `${REGISTRY:-...}` image lines and `.env`
 *   REGISTRY=, plus literal `image:` lines → the same, pointing at the mirror;
 * - `pull-secret.yaml` (0600) whose `.dockerconfigjson` skopeo uses as its authfile to read from
 *   the site, written only when the password did not come from argv;
 * - `release-record.json`: the delivered files and every image upstream → mirror.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { describeResult, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { randomImage, type RandomImage } from '../../fixtures/harness/images.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeo, skopeoCopy } from '../../fixtures/harness/skopeo.js';
import { sha256Of } from '../../fixtures/harness/validate.js';

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('deploy-ready outputs: values, Compose, pull secret, release record (issue 19)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let work: string;
  let bff: RandomImage;
  let server: RandomImage;
  let redis: RandomImage;
  let worker: RandomImage;
  let bundle: string;
  let out: string;
  let result: { rewritten?: { file: string; written: string; env?: string; changes: unknown[]; notMirrored: unknown[] }[]; written?: string[] };

  /** The judge: skopeo reads `ref` from the site (with `authfile`, or the harness's credentials) and its digest. */
  const siteDigest = async (ref: string, authfile?: string): Promise<string> => {
    const flags = authfile ? ['--tls-verify=false', '--authfile', authfile] : site.skopeoFlags('src').map((f) => f.replace(/^--src-/, '--'));
    const { stdout } = await skopeo(['inspect', '--raw', ...flags, `docker://${ref}`]);
    return sha256Of(Buffer.from(stdout));
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-deploy-files-'));
    [upstream, site] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    [bff, server, redis, worker] = await Promise.all([
      randomImage({ layers: 1, size: 20_000 }), randomImage({ layers: 1, size: 20_000 }), randomImage({ layers: 1, size: 10_000 }),
      randomImage({ layers: 1, size: 10_000, platforms: ['linux/amd64', 'linux/arm64'] }),
    ]);
    await skopeoCopy(worker.ociRef, `docker://${upstream.host}/cloudgrid-dev/cloudgrid-worker:v1.0.0-beta`, { dest: upstream });
    await skopeoCopy(bff.ociRef, `docker://${upstream.host}/cloudgrid-dev/cloudgrid-bff:v1.0.0-beta`, { dest: upstream });
    await skopeoCopy(server.ociRef, `docker://${upstream.host}/sentari-dev/sentari/server:1.0.0`, { dest: upstream });
    await skopeoCopy(redis.ociRef, `docker://${upstream.host}/library/redis:7.2-alpine`, { dest: upstream });
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    const mirror = join(work, 'mirror.yaml');
    await writeFile(mirror, [
      'version: 1', 'registries:', `  "${upstream.host}": { tls: plain-http }`, 'images:',
      `  - ${upstream.host}/cloudgrid-dev/cloudgrid-bff@${bff.digest}`,
      `  - ${upstream.host}/sentari-dev/sentari/server:1.0.0`,
      `  - ${upstream.host}/library/redis:7.2-alpine`,
      `  - ref: ${upstream.host}/cloudgrid-dev/cloudgrid-worker@${worker.digest}`,
      '    platforms: [linux/amd64]',
      'files:', '  - path: ./release-values.yaml', '',
    ].join('\n'));
    // The vendor's files (seed 004's values, seed 000's Compose file and .env), naming the upstream.
    await writeFile(join(work, 'release-values.yaml'), [
      '# CloudGrid v1.0.0-beta release values',
      'global:',
      `  imageRegistry: ${upstream.host}/cloudgrid-dev   # the vendor's registry`,
      '  imagePullSecrets:',
      '    - name: cloudgrid-registry',
      '',
      'bff:',
      '  replicas: 2',
      '  image:',
      '    repository: cloudgrid-bff',
      `    digest: "${bff.digest}"   # do not replace digest pins with latest`,
      'worker:',
      '  image:',
      '    repository: cloudgrid-worker',
      `    digest: "${worker.digest}"`,
      '',
    ].join('\n'));
    const compose = join(work, 'sentari');
    await mkdir(compose);
    await writeFile(join(compose, 'docker-compose.yml'), [
      'services:',
      '  server:',
      `    image: \${REGISTRY:-${upstream.host}/sentari-dev/sentari}/server:\${VERSION:-1.0.0}`,
      '    ports: ["8080:8080"]',
      '  redis:',
      `    image: ${upstream.host}/library/redis:7.2-alpine   # cache`,
      '',
    ].join('\n'));
    await writeFile(join(compose, '.env'), `# Sentari\nREGISTRY=${upstream.host}/sentari-dev/sentari\nVERSION=1.0.0\n`);
    bundle = join(work, 'bundles', 'site.tar');
    await mkdir(join(work, 'bundles'));
    ok(await runCli(['bundle', 'export', '-f', mirror, '-o', bundle, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache')], { timeoutMs: 300_000 }));
    out = join(work, 'out');
    const r = await runCli([
      'bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--dest-username', site.username!, '--dest-password-stdin', '--state-dir', join(work, 'state'), '--out-dir', out, '--json',
      '--values', join(work, 'release-values.yaml'), '--compose', join(compose, 'docker-compose.yml'),
      '--pull-secret-name', 'cloudgrid-registry', '--pull-secret-namespace', 'cloudgrid',
    ], { input: `${site.password!}\n`, timeoutMs: 300_000 });
    ok(r);
    result = parseJsonOutput(r) as typeof result;
  });

  after(async () => {
    await Promise.allSettled([upstream?.stop(), site?.stop(), bff?.remove(), server?.remove(), redis?.remove(), worker?.remove()]);
    await rm(work, { recursive: true, force: true });
  });

  it('--values: release-values.mirrored.yaml points at the mirror with the vendor digest, comments and layout kept', async () => {
    const before = await readFile(join(work, 'release-values.yaml'), 'utf8');
    const text = await readFile(join(out, 'release-values.mirrored.yaml'), 'utf8');
    // Only the registry location changed: every other line is byte for byte the vendor's.
    const a = before.split('\n');
    const b = text.split('\n');
    assert.equal(b.length, a.length);
    assert.deepEqual(a.map((l, i) => (l === b[i] ? '' : i)).filter((x) => x !== ''), [2, 14]);
    assert.equal(b[2], `  imageRegistry: ${site.host}/mirror/cloudgrid-dev   # the vendor's registry`);
    const v = parseYaml(text) as { global: { imageRegistry: string }; bff: { image: { repository: string; digest: string } } };
    assert.equal(v.bff.image.digest, bff.digest);
    assert.equal(await siteDigest(`${v.global.imageRegistry}/${v.bff.image.repository}@${v.bff.image.digest}`), bff.digest);
    assert.equal(result.rewritten?.find((f) => f.written === 'release-values.mirrored.yaml')?.notMirrored.length, 0);
    // The worker index was filtered to linux/amd64 at export: the pin becomes the index the mirror holds.
    const w = (parseYaml(text) as { worker: { image: { repository: string; digest: string } } }).worker.image;
    assert.notEqual(w.digest, worker.digest);
    assert.equal(await siteDigest(`${v.global.imageRegistry}/${w.repository}@${w.digest}`), w.digest);
  });

  it('--compose: REGISTRY in .env and in the default, and literal image lines, point at the mirror', async () => {
    const text = await readFile(join(out, 'docker-compose.mirrored.yml'), 'utf8');
    const env = await readFile(join(out, 'docker-compose.mirrored.env'), 'utf8');
    assert.equal(env, `# Sentari\nREGISTRY=${site.host}/mirror/sentari-dev/sentari\nVERSION=1.0.0\n`);
    assert.match(text, /# cache\n/);
    assert.match(text, /ports: \["8080:8080"\]/);
    const c = parseYaml(text) as { services: Record<string, { image: string }> };
    assert.equal(c.services.server!.image, `\${REGISTRY:-${site.host}/mirror/sentari-dev/sentari}/server:\${VERSION:-1.0.0}`);
    // As Compose reads it: REGISTRY from the .env.
    const serverRef = c.services.server!.image.replace(/\$\{REGISTRY:-[^}]*\}/, `${site.host}/mirror/sentari-dev/sentari`).replace(/\$\{VERSION:-[^}]*\}/, '1.0.0');
    assert.equal(await siteDigest(serverRef), server.digest);
    assert.equal(c.services.redis!.image, `${site.host}/mirror/library/redis:7.2-alpine`);
    assert.equal(await siteDigest(c.services.redis!.image), redis.digest);
  });

  it('pull-secret.yaml: mode 0600, a dockerconfigjson Secret that skopeo can use to read the mirror', async () => {
    const path = join(out, 'pull-secret.yaml');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const secret = parseYaml(await readFile(path, 'utf8')) as { kind: string; type: string; metadata: { name: string; namespace: string }; data: Record<string, string> };
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(secret.metadata, { name: 'cloudgrid-registry', namespace: 'cloudgrid' });
    const authfile = join(work, 'from-secret.json');
    await writeFile(authfile, Buffer.from(secret.data['.dockerconfigjson']!, 'base64'));
    assert.equal(await siteDigest(`${site.host}/mirror/library/redis:7.2-alpine`, authfile), redis.digest);
  });

  it('release-record.json: the delivered files and every image upstream → mirror digest', async () => {
    const record = JSON.parse(await readFile(join(out, 'release-record.json'), 'utf8')) as {
      kind: string; bundleSigner?: string; files: { path: string; sha256: string }[]; artifacts: { source: string; mirror: string; digest: string }[];
    };
    assert.equal(record.kind, 'airlock-release-record');
    assert.match(record.bundleSigner ?? '', /^sha256:/);
    assert.deepEqual(record.files.map((f) => f.path), ['files/release-values.yaml']);
    assert.equal(record.files[0]!.sha256, sha256Of(await readFile(join(work, 'release-values.yaml'))).slice('sha256:'.length));
    const redisRow = record.artifacts.find((a) => a.source.startsWith(`${upstream.host}/library/redis:7.2-alpine`));
    assert.equal(redisRow?.mirror, `${site.host}/mirror/library/redis:7.2-alpine@${redis.digest}`);
    assert.deepEqual(result.written?.sort(), ['pull-secret.yaml', 'release-record.json']);
  });

  it('writes no pull secret when the password came from argv (--dest-creds), and stops before pushing on a --values file that is missing (exit 2)', async () => {
    const out2 = join(work, 'out-2');
    const r = await runCli([
      'bundle', 'import', bundle, '--to', `${site.host}/mirror`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--dest-creds', `${site.username!}:${site.password!}`, '--state-dir', join(work, 'state-2'), '--out-dir', out2,
    ], { timeoutMs: 300_000 });
    ok(r);
    await assert.rejects(stat(join(out2, 'pull-secret.yaml')), { code: 'ENOENT' });
    const bad = await runCli([
      'bundle', 'import', bundle, '--to', `${site.host}/other`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--dest-creds', `${site.username!}:${site.password!}`, '--state-dir', join(work, 'state-3'), '--out-dir', join(work, 'out-3'),
      '--values', join(work, 'no-such-values.yaml'), '--json',
    ], { timeoutMs: 300_000 });
    assert.equal(bad.code, 2, describeResult(bad));
    assert.equal((parseJsonOutput(bad) as { error: { code: string } }).error.code, 'USAGE');
    await assert.rejects(skopeo(['inspect', '--raw', ...site.skopeoFlags('src').map((f) => f.replace(/^--src-/, '--')), `docker://${site.host}/other/library/redis:7.2-alpine`]));
  });
});
