/**
 * Issue 19 (first half), judged from outside: images that do not come from a registry by name.
 * - `archive:` docker-archives that skopeo wrote (one image per archive, and several merged into
 *   one gzip-compressed tarball the way `docker save a b | gzip` writes them, legacy layer links
 *   included), and oci-archives;
 * - `layout:` OCI layout directories that skopeo wrote (one ref, or all refs);
 * - `fromFile:` a vendor release manifest (seed 004) whose digest-only references get a tag.
 * Each is exported, imported into a real Distribution registry, and checked with skopeo: the
 * digest in the target is the one airlock.json records, and skopeo can pull it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { describeResult, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { randomImage, type RandomImage } from '../../fixtures/harness/images.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { skopeo, skopeoCopy, skopeoInspectRaw } from '../../fixtures/harness/skopeo.js';
import { listTar, sha256Of, validateLayout } from '../../fixtures/harness/validate.js';

const execFileP = promisify(execFile);

interface Artifact {
  kind: string; source: string; repository: string; tag?: string; digest: string; mediaType: string; origin?: string; upstreamDigest?: string;
  archive?: { format: string; name: string; ref?: string; manifest: string; sha256?: string };
  tagGiven?: boolean; fromFile?: { name: string; selector: string };
}
interface AirlockJson { artifacts: Artifact[] }
interface ErrorJson { error: { code: string; where?: string; problems?: { code: string; message: string; where?: string }[] } }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('sources beyond registries: archives, layouts, release manifests (issue 19)', () => {
  let upstream: TestRegistry;
  let site: TestRegistry;
  let work: string;
  let app: RandomImage;
  let redis: RandomImage;
  let multi: RandomImage;
  let n = 0;

  const src = (): string[] => upstream.skopeoFlags('src');
  /** The bundle's airlock.json, read with a tar walker of the harness's own (not airlock), or from a directory. */
  const airlockOf = async (bundle: string): Promise<AirlockJson> => {
    const bytes = /\.tar(\.zst)?$/.test(bundle)
      ? (await listTar(bundle)).find((e) => e.name === 'airlock.json')!.body
      : await readFile(join(bundle, 'airlock.json'));
    return JSON.parse(bytes.toString('utf8')) as AirlockJson;
  };
  const writeMirror = async (lines: readonly string[]): Promise<string> => {
    const file = join(work, `mirror-${++n}.yaml`);
    await writeFile(file, ['version: 1', 'registries:', `  "${upstream.host}": { tls: plain-http }`, ...lines, ''].join('\n'));
    return file;
  };
  const exportBundle = async (mirror: string, out: string, ...extra: string[]): Promise<AirlockJson> => {
    ok(await runCli(['bundle', 'export', '-f', mirror, '-o', out, '--sign-key', join(work, 'dmz.key'), '--cache', join(work, 'cache'), ...extra], { timeoutMs: 300_000 }));
    return airlockOf(out);
  };
  const importBundle = async (bundle: string, prefix: string, ...extra: string[]): Promise<void> => {
    ok(await runCli([
      'bundle', 'import', bundle, '--to', `${site.host}/${prefix}`, '--dest-tls-verify=false', '--verify-key', join(work, 'dmz.pub'),
      '--state-dir', join(work, 'state', prefix), '--out-dir', join(work, 'out', prefix), ...extra,
    ], { timeoutMs: 300_000 }));
  };
  /** The judge: the manifest skopeo reads from the site, its digest, and a full pull of it. */
  const judge = async (ref: string, expectedDigest: string): Promise<void> => {
    const raw = await skopeoInspectRaw(`docker://${site.host}/${ref}`, site);
    assert.equal(sha256Of(raw), expectedDigest, `${ref} in the target`);
    const pulled = join(work, `pulled-${++n}`);
    await skopeo(['copy', '--all', '--preserve-digests', ...site.skopeoFlags('src'), `docker://${site.host}/${ref}`, `oci:${pulled}:x`]);
    const layout = await validateLayout(pulled);
    assert.equal(layout.refs.get('x')?.digest, expectedDigest, `${ref} pulled by skopeo`);
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-sources-test-'));
    [upstream, site] = await Promise.all([startRegistry(), startRegistry()]);
    [app, redis, multi] = await Promise.all([
      randomImage({ layers: 2, size: 40_000 }),
      randomImage({ layers: 1, size: 30_000 }),
      randomImage({ layers: 1, size: 20_000, platforms: ['linux/amd64', 'linux/arm64'] }),
    ]);
    await skopeoCopy(app.ociRef, `docker://${upstream.host}/acme/app:1.0`, { dest: upstream });
    await skopeoCopy(redis.ociRef, `docker://${upstream.host}/library/redis:7.2-alpine`, { dest: upstream });
    await skopeoCopy(multi.ociRef, `docker://${upstream.host}/acme/multi:2.0`, { dest: upstream });
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
  });

  after(async () => {
    await Promise.allSettled([upstream?.stop(), site?.stop(), app?.remove(), redis?.remove(), multi?.remove()]);
    await rm(work, { recursive: true, force: true });
  });

  describe('archive: docker save / skopeo docker-archive tarballs (seed 000)', () => {
    let single: string;
    let tarball: string;
    let bundle: AirlockJson;
    let bundlePath: string;

    before(async () => {
      // As the vendor does: pull, then save. skopeo writes the docker-archive format `docker save` does.
      single = join(work, 'server.tar');
      await skopeo(['copy', ...src(), `docker://${upstream.host}/acme/app:1.0`, `docker-archive:${single}:ghcr.io/sentari-dev/sentari/server:1.0.0`]);
      const redisTar = join(work, 'redis.tar');
      await skopeo(['copy', ...src(), `docker://${upstream.host}/library/redis:7.2-alpine`, `docker-archive:${redisTar}:redis:7.2-alpine`]);
      // `docker save server redis | gzip`: both archives in one tar, manifest.json listing both;
      // the redis image names its layer through the legacy `<id>/layer.tar` link, as pre-25 docker save does.
      const merged = join(work, 'merged');
      await mkdir(merged, { recursive: true });
      await execFileP('tar', ['-xf', single, '-C', merged]);
      const first = JSON.parse(await readFile(join(merged, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
      await execFileP('tar', ['-xf', redisTar, '-C', merged]);
      const second = JSON.parse(await readFile(join(merged, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
      const { stdout: links } = await execFileP('find', [merged, '-name', 'layer.tar', '-type', 'l', '-printf', '%P %l\n']);
      second[0]!.Layers = second[0]!.Layers.map((l) => links.split('\n').find((x) => x.endsWith(`../${l}`))?.split(' ')[0] ?? l);
      assert.match(second[0]!.Layers[0]!, /\/layer\.tar$/, 'the legacy link is what manifest.json names');
      await writeFile(join(merged, 'manifest.json'), JSON.stringify([...first, ...second]));
      tarball = join(work, 'sentari-1.0.0-images.tar.gz');
      await execFileP('sh', ['-c', `tar -C "${merged}" -cf - . | gzip -n > "${tarball}"`]);

      bundlePath = join(work, 'archive-1.tar');
      bundle = await exportBundle(await writeMirror(['images:', '  - archive: ./sentari-1.0.0-images.tar.gz']), bundlePath);
    });

    it('names each image of the archive by its RepoTags and records that airlock made its manifest', () => {
      const images = bundle.artifacts.filter((a) => a.kind === 'image');
      assert.deepEqual(images.map((a) => `${a.repository}:${a.tag}`).sort(), ['docker.io/library/redis:7.2-alpine', 'ghcr.io/sentari-dev/sentari/server:1.0.0']);
      for (const a of images) {
        assert.equal(a.archive?.format, 'docker-archive');
        assert.equal(a.archive?.name, 'sentari-1.0.0-images.tar.gz');
        assert.equal(a.archive?.manifest, 'airlock');
        assert.equal(a.origin, 'archive:sentari-1.0.0-images.tar.gz');
        assert.equal(a.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      }
      // skopeo writes RepoTags normalised (docker save writes `redis:7.2-alpine`: the unit tests read that form).
      assert.equal(images.find((a) => a.tag === '7.2-alpine')?.archive?.ref, 'docker.io/library/redis:7.2-alpine');
    });

    it('gives the same digests on every export, from the .tar.gz and from the plain single archive', async () => {
      const again = await exportBundle(await writeMirror(['images:', '  - archive: ./sentari-1.0.0-images.tar.gz']), join(work, 'archive-2.tar.zst'));
      const digests = (j: AirlockJson): string[] => j.artifacts.map((a) => `${a.repository}:${a.tag}@${a.digest}`).sort();
      assert.deepEqual(digests(again), digests(bundle));
      const one = await exportBundle(await writeMirror(['images:', '  - archive: ./server.tar']), join(work, 'archive-3'));
      assert.equal(one.artifacts[0]?.digest, bundle.artifacts.find((a) => a.tag === '1.0.0')?.digest);
      // inspect and diff say where the images came from.
      const inspect = await runCli(['bundle', 'inspect', bundlePath, '--verify-key', join(work, 'dmz.pub')]);
      ok(inspect);
      assert.match(inspect.stdout, /from docker-archive sentari-1\.0\.0-images\.tar\.gz/);
      assert.match(inspect.stdout, /manifest made by airlock/);
      const diff = await runCli(['bundle', 'diff', join(work, 'archive-3'), bundlePath, '--json']);
      ok(diff);
      const d = parseJsonOutput<{ artifacts: { added: { name: string; origin?: string }[]; changed: unknown[]; unchanged: number } }>(diff);
      assert.deepEqual(d.artifacts.added.map((a) => [a.name, a.origin]), [['docker.io/library/redis:7.2-alpine', 'docker-archive sentari-1.0.0-images.tar.gz, manifest made by airlock']]);
      assert.equal(d.artifacts.unchanged, 1);
    });

    it('imports into the registry with the recorded digests, and skopeo pulls them', async () => {
      await importBundle(bundlePath, 'mirror');
      for (const a of bundle.artifacts.filter((x) => x.kind === 'image')) {
        const path = a.repository === 'docker.io/library/redis' ? 'mirror/library/redis' : 'mirror/sentari-dev/sentari/server';
        await judge(`${path}:${a.tag}`, a.digest);
      }
      // The image map ties the archive's name to the mirrored digest.
      const map = await readFile(join(work, 'out', 'mirror', 'image-map.txt'), 'utf8');
      assert.match(map, /^ghcr\.io\/sentari-dev\/sentari\/server:1\.0\.0@sha256:[a-f0-9]{64}=127\.0\.0\.1:\d+\/mirror\/sentari-dev\/sentari\/server:1\.0\.0@sha256:/m);
    });

    it('takes the target name from to: and tag: when given, and picks one image with ref:', async () => {
      const j = await exportBundle(await writeMirror([
        'images:',
        '  - archive: ./sentari-1.0.0-images.tar.gz',
        '    ref: docker.io/library/redis:7.2-alpine',
        '    to: vendor/redis',
        '    tag: pinned',
      ]), join(work, 'archive-4.tar'));
      assert.deepEqual(j.artifacts.map((a) => `${a.repository}:${a.tag}`), ['docker.io/vendor/redis:pinned']);
      await importBundle(join(work, 'archive-4.tar'), 'renamed');
      await judge('renamed/vendor/redis:pinned', j.artifacts[0]!.digest);
    });

    it('a name that is missing and not given is MIRROR_INVALID at the entry, and nothing is written', async () => {
      const noName = join(work, 'noname.tar');
      await skopeo(['copy', ...src(), `docker://${upstream.host}/acme/app:1.0`, `docker-archive:${noName}`]);
      const mirror = await writeMirror(['images:', '  - ghcr.io/never/pulled:1', '  - archive: ./noname.tar']);
      const out = join(work, 'never.tar');
      const r = await runCli(['bundle', 'export', '-f', mirror, '-o', out, '--json', '--cache', join(work, 'cache')]);
      assert.equal(r.code, 2, describeResult(r));
      const e = parseJsonOutput<ErrorJson>(r).error;
      assert.equal(e.code, 'MIRROR_INVALID');
      assert.equal(e.where, `${mirror}:6:5`);
    });
  });

  describe('archive: and layout: OCI archives and layouts keep their digests', () => {
    let multiDigest: string;
    let appDigest: string;

    before(async () => {
      multiDigest = sha256Of(await skopeoInspectRaw(`docker://${upstream.host}/acme/multi:2.0`, upstream));
      appDigest = sha256Of(await skopeoInspectRaw(`docker://${upstream.host}/acme/app:1.0`, upstream));
      await skopeo(['copy', '--all', '--preserve-digests', ...src(), `docker://${upstream.host}/acme/multi:2.0`, `oci-archive:${join(work, 'multi.tar')}:acme/multi:2.0`]);
      const layout = join(work, 'vendor-layout');
      await skopeo(['copy', '--all', '--preserve-digests', ...src(), `docker://${upstream.host}/acme/multi:2.0`, `oci:${layout}:v2`]);
      await skopeo(['copy', '--all', '--preserve-digests', ...src(), `docker://${upstream.host}/acme/app:1.0`, `oci:${layout}:v1`]);
    });

    it('an oci-archive, whole and filtered to one platform, lands with the upstream digest', async () => {
      const j = await exportBundle(await writeMirror([
        'images:',
        '  - archive: ./multi.tar',
        '  - archive: ./multi.tar',
        '    to: ghcr.io/acme/multi-arm',
        '    platforms: [linux/arm64]',
      ]), join(work, 'oci-1.tar.zst'));
      const whole = j.artifacts.find((a) => a.repository === 'docker.io/acme/multi')!;
      assert.equal(whole.tag, '2.0');
      assert.equal(whole.digest, multiDigest);
      assert.deepEqual(whole.archive, { format: 'oci-archive', name: 'multi.tar', ref: 'acme/multi:2.0', manifest: 'archive' });
      const arm = j.artifacts.find((a) => a.repository === 'ghcr.io/acme/multi-arm')!;
      assert.equal(arm.upstreamDigest, multiDigest);
      await importBundle(join(work, 'oci-1.tar.zst'), 'oci');
      await judge('oci/acme/multi:2.0', multiDigest);
      await judge('oci/acme/multi-arm:2.0', arm.digest);
    });

    it('a layout directory: every ref under to:, or one ref', async () => {
      const j = await exportBundle(await writeMirror([
        'images:',
        '  - layout: ./vendor-layout',
        '    to: ghcr.io/vendor/suite',
        '  - layout: ./vendor-layout',
        '    ref: v1',
        '    to: ghcr.io/vendor/app',
        '    tag: 1.0.0',
      ]), join(work, 'layout-1'));
      assert.deepEqual(j.artifacts.map((a) => `${a.repository}:${a.tag}@${a.digest}`).sort(), [
        `ghcr.io/vendor/app:1.0.0@${appDigest}`,
        `ghcr.io/vendor/suite:v1@${appDigest}`,
        `ghcr.io/vendor/suite:v2@${multiDigest}`,
      ]);
      assert.ok(j.artifacts.every((a) => a.archive?.format === 'oci-layout' && a.origin === 'layout:vendor-layout'));
      // --dry-run shows them with nothing written.
      const dry = await runCli(['bundle', 'export', '-f', await writeMirror(['images:', '  - layout: ./vendor-layout', '    to: ghcr.io/vendor/suite']), '--dry-run', '--cache', join(work, 'cache')]);
      ok(dry);
      assert.match(dry.stdout, /ghcr\.io\/vendor\/suite:v2/);
      assert.match(dry.stdout, /from oci-layout vendor-layout \(named v2 there\)/);
      // The plan says every blob is read from the layout, none downloaded.
      assert.match(dry.stdout, /\d+ \([^)]*\) from layout:vendor-layout\n/);
      assert.doesNotMatch(dry.stdout, /\) from (?!layout:vendor-layout)/);
      await importBundle(join(work, 'layout-1'), 'layout', '--layout', 'scoped');
      await judge('layout/ghcr.io/vendor/suite:v2', multiDigest);
      await judge('layout/ghcr.io/vendor/app:1.0.0', appDigest);
    });
  });

  describe('fromFile: a vendor release manifest (seed 004)', () => {
    let appDigest: string;
    let multiDigest: string;

    before(async () => {
      appDigest = sha256Of(await skopeoInspectRaw(`docker://${upstream.host}/acme/app:1.0`, upstream));
      multiDigest = sha256Of(await skopeoInspectRaw(`docker://${upstream.host}/acme/multi:2.0`, upstream));
    });

    it('mirrors every digest-pinned image the selector yields to an immutable tag', async () => {
      await writeFile(join(work, 'release-manifest.json'), JSON.stringify({
        release: 'v1.0.0-beta',
        services: [
          { name: 'cloudgrid-bff', image: `${upstream.host}/acme/app@${appDigest}`, sbom: 'cloudgrid-bff.spdx.json' },
          { name: 'cloudgrid-otlp-collector', image: `${upstream.host}/acme/multi@${multiDigest}` },
        ],
        chart: { ref: 'oci://ghcr.io/cloudgrid-dev/charts/cloudgrid', version: '1.0.0' },
      }, null, 2));
      const j = await exportBundle(await writeMirror([
        'images:',
        '  - fromFile: ./release-manifest.json',
        '    select: "$.services[*].image"',
        '    tag: v1.0.0-beta',
        // The same for one image written by hand, as seed 004's skopeo copy line.
        `  - ref: ${upstream.host}/acme/app@${appDigest}`,
        '    tag: v1.0.0',
      ]), join(work, 'release.tar.zst'));
      const images = j.artifacts.filter((a) => a.kind === 'image');
      assert.deepEqual(images.map((a) => [a.repository, a.tag, a.digest, a.tagGiven, a.source]).sort(), [
        [`${upstream.host}/acme/app`, 'v1.0.0', appDigest, true, `${upstream.host}/acme/app@${appDigest}`],
        [`${upstream.host}/acme/app`, 'v1.0.0-beta', appDigest, true, `${upstream.host}/acme/app@${appDigest}`],
        [`${upstream.host}/acme/multi`, 'v1.0.0-beta', multiDigest, true, `${upstream.host}/acme/multi@${multiDigest}`],
      ]);
      assert.deepEqual(images.find((a) => a.tag === 'v1.0.0-beta')?.fromFile, { name: 'release-manifest.json', selector: '$.services[*].image' });
      assert.equal(images.find((a) => a.tag === 'v1.0.0')?.fromFile, undefined);
      await importBundle(join(work, 'release.tar.zst'), 'cloudgrid');
      // As seed 004 checks it: `skopeo inspect docker://registry.example.com/cloudgrid/cloudgrid-bff:v1.0.0-beta`.
      await judge('cloudgrid/acme/app:v1.0.0-beta', appDigest);
      await judge('cloudgrid/acme/multi:v1.0.0-beta', multiDigest);
      await judge('cloudgrid/acme/app:v1.0.0', appDigest);
      const inspected = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${site.host}/cloudgrid/acme/app:v1.0.0-beta`])).stdout) as { Digest: string };
      assert.equal(inspected.Digest, appDigest);
    });

    it('a value that is not a reference is MIRROR_INVALID at the select: value, naming selector and value; nothing is fetched', async () => {
      await writeFile(join(work, 'broken-release.json'), JSON.stringify({ services: [{ image: `${upstream.host}/acme/app@${appDigest}` }, { image: 'not a reference' }, { image: 7 }] }));
      const mirror = await writeMirror(['images:', '  - fromFile: ./broken-release.json', '    select: $.services[*].image']);
      const r = await runCli(['bundle', 'export', '-f', mirror, '-o', join(work, 'never2.tar'), '--json']);
      assert.equal(r.code, 2, describeResult(r));
      const e = parseJsonOutput<ErrorJson>(r).error;
      assert.equal(e.code, 'MIRROR_INVALID');
      assert.deepEqual(e.problems?.map((p) => p.where), [`${mirror}:6:13`, `${mirror}:6:13`]);
      assert.ok(e.problems?.[0]?.message.includes('"not a reference"') && e.problems[0].message.includes('$.services[*].image'), e.problems?.[0]?.message);
      assert.ok(e.problems?.[1]?.message.includes("$['services'][2]['image']"), e.problems?.[1]?.message);
    });
  });

  it('an archive whose manifest.json names a link out of the archive is refused (exit 3), nothing written', async () => {
    const dir = join(work, 'hostile');
    await mkdir(join(dir, 'x'), { recursive: true });
    await writeFile(join(dir, 'c.json'), JSON.stringify({ rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } }));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['x/layer.tar'] }]));
    await execFileP('ln', ['-s', '../../../../etc/passwd', join(dir, 'x', 'layer.tar')]);
    await execFileP('tar', ['-C', dir, '-cf', join(work, 'hostile.tar'), 'c.json', 'manifest.json', 'x']);
    const out = join(work, 'hostile-bundle.tar');
    const r = await runCli(['bundle', 'export', '-f', await writeMirror(['images:', '  - archive: ./hostile.tar']), '-o', out, '--json', '--cache', join(work, 'cache')]);
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(parseJsonOutput<ErrorJson>(r).error.code, 'UNSAFE_ARCHIVE_ENTRY');
    await assert.rejects(readFile(out));
  });
});
