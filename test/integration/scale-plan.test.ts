/**
 * Issue 24: a 10,000-image mirror list plans (`bundle export --dry-run`) with bounded memory and a
 * bounded number of requests, offline: the images are seeded into a local Distribution registry
 * (fixtures/harness/many-images.ts: distinct manifests, pinned by digest). Peak RSS comes from GNU time,
 * the requests from the registry's own access log. Wall time is reported, never asserted (the
 * bench measures it: docs/BENCHMARKS.md "Scale-out").
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI_PATH } from '../../fixtures/harness/cli.js';
import { seedManyImages, type ManyImages } from '../../fixtures/harness/many-images.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

const execFileP = promisify(execFile);
const IMAGES = 10_000;

describe('planning a 10,000-image mirror list (issue 24)', () => {
  let reg: TestRegistry;
  let work: string;
  let many: ManyImages;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-scale-plan-'));
    reg = await startRegistry({ accessLog: true });
    many = await seedManyImages(reg, IMAGES, work);
  });

  after(async () => {
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('plans every image in < 512 MiB, with one manifest GET per image and one tag list per repository', async (t) => {
    await writeFile(reg.logPath, ''); // the seeding's requests are not the plan's
    const timeFile = join(work, 'time');
    const started = Date.now();
    const { stdout } = await execFileP('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, process.execPath, CLI_PATH,
      'bundle', 'export', '-f', many.list, '--dry-run', '--json', '--quiet', '--cache', join(work, 'cache')], {
      maxBuffer: 256 << 20, timeout: 600_000, env: { ...process.env, XDG_STATE_HOME: join(work, 'state'), XDG_CACHE_HOME: join(work, 'xdg-cache'), NO_COLOR: '1' },
    });
    const wallS = (Date.now() - started) / 1000;
    const [rssKiB, user, sys] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
    const plan = JSON.parse(stdout) as { dryRun: boolean; artifacts: unknown[]; blobs: number };
    assert.equal(plan.dryRun, true);
    assert.equal(plan.artifacts.length, IMAGES);
    assert.equal(plan.blobs, IMAGES + 2, 'every manifest, one config, one layer');
    const rssMiB = rssKiB / 1024;
    assert.ok(rssMiB < 512, `peak RSS ${rssMiB.toFixed(0)} MiB`);

    const requests = (await readFile(reg.logPath, 'utf8')).split('\n').map((l) => /"(GET|HEAD|PUT|POST|PATCH|DELETE) (\/v2\/[^ ?]*)/.exec(l)).filter((m) => m !== null);
    const manifestGets = requests.filter((m) => m[1] === 'GET' && /\/manifests\/sha256:/.test(m[2]!)).length;
    const tagLists = requests.filter((m) => /\/tags\/list$/.test(m[2]!)).length;
    assert.equal(manifestGets, IMAGES, 'manifest GETs');
    assert.ok(tagLists <= many.repositories, `${tagLists} tag lists for ${many.repositories} repositories`);
    assert.ok(requests.length <= IMAGES + many.repositories + 10, `${requests.length} requests`);
    assert.ok(requests.every((m) => m[1] === 'GET' || m[1] === 'HEAD'), 'a dry run wrote to the registry');
    t.diagnostic(`${IMAGES} images over ${many.repositories} repositories: ${wallS.toFixed(1)} s wall, ${(user + sys).toFixed(1)} s CPU, ${rssMiB.toFixed(0)} MiB peak RSS, ${requests.length} requests`);
  });
});
