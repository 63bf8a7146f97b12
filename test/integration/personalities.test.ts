/**
 * Issue 17.3, registry personalities: the documented behaviours of Harbor, Nexus, Quay, GitLab,
 * zot and an OCI 1.1 registry with the referrers API, each emulated by fixtures/harness/personality-proxy.ts
 * in front of a real Distribution registry, and imported into with the built CLI. Every scenario
 * ends with the right result (the target equals a clean import into plain Distribution) or with a
 * coded error raised before the first byte of the bundle reached the registry. `registry probe`
 * reports each personality's capabilities. Outcomes go to docs/RELIABILITY.md.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { readBundleFront } from '../../src/bundle/index.js';
import { createRegistryClient } from '../../src/registry/index.js';
import type { Descriptor } from '../../src/oci/index.js';
import {
  gitlabPersonality, harborPersonality, nexusPersonality, quayPersonality, referrersApiPersonality, startPersonalityProxy, zotPersonality,
  type PersonalityOptions, type PersonalityProxy,
} from '../../fixtures/harness/personality-proxy.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  checkRegistry, describeRun, exportTo, importArgs, listRepositories, makeWorld, recordOutcome, runCli, type CliResult, type World,
} from '../../fixtures/harness/reliability.js';

const execFileP = promisify(execFile);
const ADMIN = 'harbor-admin';
const ADMIN_PASSWORD = 'H4rbor-Adm1n-Secret-93ab';
const DEV = 'developer';
const DEV_PASSWORD = 'Dev-Secret-5521-xy';
const USERS = { [ADMIN]: ADMIN_PASSWORD, [DEV]: DEV_PASSWORD };

interface ErrorDoc {
  readonly code: string;
  readonly message: string;
  readonly where?: string;
  readonly hint?: string;
}

interface ImportDoc {
  readonly blobsPushed: number;
  readonly blobsMounted: number;
  readonly artifacts: readonly { readonly target: string; readonly kind: string; readonly digest: string }[];
  readonly projectsCreated?: readonly string[];
}

function errorOf(r: CliResult): ErrorDoc {
  const doc = JSON.parse(r.stdout) as { error?: ErrorDoc };
  assert.ok(doc.error, `no error document: ${describeRun(r)}`);
  return doc.error;
}

function resultOf(r: CliResult): ImportDoc {
  assert.equal(r.code, 0, describeRun(r));
  return JSON.parse(r.stdout) as ImportDoc;
}

/** Tags of every repository under `prefix` (stripped), `repository:tag` → digest. */
async function tagsUnder(reg: TestRegistry, prefix: string): Promise<Record<string, string>> {
  const checked = await checkRegistry(reg);
  assert.deepEqual(checked.problems, [], 'the target holds a corrupt blob or a tag on incomplete content');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(checked.tags)) {
    if (prefix === '') out[k] = v;
    else if (k.startsWith(`${prefix}/`)) out[k.slice(prefix.length + 1)] = v;
  }
  return out;
}

const FALLBACK_TAG = /:sha256-[a-f0-9]{64}$/;

describe('registry personalities (proxy in front of a real Distribution registry)', { timeout: 900_000 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let bundle: string;
  let recompressed: string;
  /** What a clean import into plain Distribution holds, `repository:tag` → digest. */
  let expected: Record<string, string>;
  let bundleBlobs: Set<string>;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => disposers.push(async () => fn()) };
  let runs = 0;

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'personalities');
    bundle = join(world.ws.dir, 'site.tar.zst');
    await exportTo(world, bundle);
    // The same bundle recompressed by zstd: read front to back (no re-reading a blob mid-stream).
    const tar = join(world.ws.dir, 'site.tar');
    recompressed = join(world.ws.dir, 'recompressed.tar.zst');
    await execFileP('zstd', ['-q', '-d', bundle, '-o', tar]);
    await execFileP('zstd', ['-q', '-3', tar, '-o', recompressed]);
    const front = await readBundleFront(bundle);
    bundleBlobs = new Set(front.manifest.blobs.map((b) => b.digest as string));
    const control = await startRegistry();
    disposers.push(() => control.stop());
    const r = await runCli(importArgs(world, bundle, `${control.host}/ctl`, join(world.ws.dir, 'control')), { env: world.ws.env });
    resultOf(r);
    expected = await tagsUnder(control, 'ctl');
    assert.ok(Object.keys(expected).some((k) => FALLBACK_TAG.test(k)), 'plain Distribution has no referrers API: the control import wrote the fallback tag');
  });

  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  async function site(personality: PersonalityOptions): Promise<{ reg: TestRegistry; proxy: PersonalityProxy }> {
    const reg = await startRegistry();
    disposers.push(() => reg.stop());
    const proxy = await startPersonalityProxy(reg.host, personality);
    disposers.push(() => proxy.stop());
    return { reg, proxy };
  }

  async function importInto(to: string, extra: readonly string[] = [], file = bundle, stdin?: string): Promise<CliResult> {
    const state = join(world.ws.dir, `run-${++runs}`);
    return runCli(importArgs(world, file, to, state, extra), { env: world.ws.env, ...(stdin !== undefined ? { stdin } : {}) });
  }

  /** Nothing of the bundle reached the registry: no blob of it, no manifest of it, no tag. */
  async function assertNothingImported(reg: TestRegistry, proxy: PersonalityProxy): Promise<void> {
    const checked = await checkRegistry(reg);
    assert.deepEqual(checked.tags, {}, 'a tag was written');
    for (const w of proxy.upstreamWrites()) {
      const digest = /digest=(sha256(?:%3A|:)[a-f0-9]{64})/.exec(w.path)?.[1]?.replace('%3A', ':') ?? /\/manifests\/(sha256:[a-f0-9]{64})$/.exec(w.path)?.[1];
      assert.ok(!digest || !bundleBlobs.has(digest), `${w.method} ${w.path}: a blob or manifest of the bundle reached the registry`);
      assert.ok(w.method !== 'PATCH', `${w.method} ${w.path}: an upload chunk reached the registry`);
    }
  }

  function record(scenario: string, outcome: 'correct' | 'clear-error', detail?: string): void {
    recordOutcome({ group: 'personalities', scenario, side: 'import', outcome, corrupt: false, ...(detail ? { detail } : {}) });
  }

  // -------------------------------------------------------------------------------------------
  // Harbor

  it('Harbor: a push into a missing project (401 "project … not found") stops before the first upload with PROJECT_MISSING naming it', async () => {
    const { reg, proxy } = await site(harborPersonality({ users: USERS, projects: ['other'], creators: [ADMIN] }));
    const r = await importInto(`${proxy.host}/mirror`, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 1, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'PROJECT_MISSING');
    assert.match(e.message, /"mirror"/);
    assert.match(e.hint ?? '', /--create-projects/);
    await assertNothingImported(reg, proxy);
    assert.deepEqual(await listRepositories(reg), []);
    record('Harbor: project missing (401 project not found)', 'clear-error', e.code);
  });

  it('Harbor (404 NAME_UNKNOWN on the first upload): PROJECT_MISSING too, from the upload session the preflight opens', async () => {
    const { reg, proxy } = await site(harborPersonality({ users: USERS, projects: [], creators: [ADMIN], missingProject: 'name-unknown' }));
    const r = await importInto(`${proxy.host}/mirror`, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(errorOf(r).code, 'PROJECT_MISSING');
    // The reads went through (404 is "not there yet"); the first write, an upload session, was refused.
    assert.ok(proxy.log.some((l) => l.method === 'POST' && /\/blobs\/uploads\/$/.test(l.path) && l.status === 404), 'no refused upload session');
    await assertNothingImported(reg, proxy);
    record('Harbor: project missing (404 NAME_UNKNOWN)', 'clear-error', 'PROJECT_MISSING');
  });

  it('Harbor, flat into the root: only the missing project is named; repositories of an existing one got no blob either', async () => {
    const { reg, proxy } = await site(harborPersonality({ users: USERS, projects: ['demo'], creators: [ADMIN] }));
    const r = await importInto(proxy.host, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 1, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'PROJECT_MISSING');
    assert.match(e.message, /"charts"/);
    assert.doesNotMatch(e.message, /"demo"/);
    await assertNothingImported(reg, proxy);
    record('Harbor: one of two projects missing', 'clear-error', e.code);
  });

  it('Harbor --create-projects with credentials that may: POST /api/v2.0/projects creates it, the import completes, the password is never printed', async () => {
    const { reg, proxy } = await site(harborPersonality({ users: USERS, projects: [], creators: [ADMIN] }));
    const r = await importInto(`${proxy.host}/mirror`, ['--create-projects', '--dest-username', ADMIN, '--dest-password-stdin', '--verbose'], bundle, `${ADMIN_PASSWORD}\n`);
    const doc = resultOf(r);
    assert.deepEqual(doc.projectsCreated, ['mirror']);
    const created = proxy.harborApi.filter((a) => a.method === 'POST' && a.path === '/api/v2.0/projects');
    assert.deepEqual(created.map((a) => [a.status, a.user]), [[201, ADMIN]]);
    assert.ok(proxy.projects.has('mirror'));
    for (const form of [ADMIN_PASSWORD, Buffer.from(`${ADMIN}:${ADMIN_PASSWORD}`).toString('base64')]) {
      assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), 'a credential was printed');
    }
    // Basic credentials went only to the token endpoint and to Harbor's project API; the ping that
    // tells whether this is Harbor at all went without any.
    const basicTo = new Set(proxy.seenAuthorization.filter((a) => a.scheme === 'Basic').map((a) => a.path));
    assert.deepEqual([...basicTo].sort(), ['/api/v2.0/projects', '/service/token']);
    assert.ok(!proxy.seenAuthorization.some((a) => a.path === '/api/v2.0/ping'));
    assert.deepEqual(await tagsUnder(reg, 'mirror'), expected);
    // Again: the project exists, nothing is created or written.
    const again = await importInto(`${proxy.host}/mirror`, ['--create-projects', '--dest-creds', `${ADMIN}:${ADMIN_PASSWORD}`]);
    assert.equal(resultOf(again).projectsCreated, undefined);
    assert.equal(proxy.harborApi.filter((a) => a.method === 'POST').length, 1);
    record('Harbor: --create-projects', 'correct');
  });

  it('Harbor --create-projects with an account that may not create projects: AUTH naming the project, nothing pushed', async () => {
    const { reg, proxy } = await site(harborPersonality({ users: USERS, projects: [], creators: [ADMIN] }));
    const r = await importInto(`${proxy.host}/mirror`, ['--create-projects', '--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 1, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'AUTH');
    assert.match(e.message, /project mirror/);
    assert.ok(proxy.harborApi.some((a) => a.method === 'POST' && a.status === 403));
    await assertNothingImported(reg, proxy);
    record('Harbor: --create-projects without the right', 'clear-error', e.code);
  });

  // -------------------------------------------------------------------------------------------
  // Nexus: mounts not honoured

  for (const [form, pick] of [['in place', () => bundle], ['front to back', () => recompressed]] as const) {
    it(`Nexus (mount answered with a plain upload session): a ${form} import completes with plain uploads and no error`, async () => {
      const { reg, proxy } = await site(nexusPersonality());
      const r = await importInto(`${proxy.host}/mirror`, ['-v'], pick());
      const doc = resultOf(r);
      assert.equal(doc.blobsMounted, 0);
      assert.ok(proxy.log.some((l) => l.rule === 'mount ignored' && l.status === 202), 'no mount was tried');
      // In place, a refused mount re-reads the blob from the bundle; front to back it cannot, and
      // reads it back from the repository it was just pushed to.
      const blobGets = proxy.log.filter((l) => l.method === 'GET' && /\/blobs\/sha256:/.test(l.path)).length;
      if (form === 'front to back') {
        assert.match(r.stderr, /reading the bundle front to back/);
        assert.ok(blobGets > 0, 'no blob was read back from the target');
      } else {
        assert.match(r.stderr, /reading the layers in place/);
        assert.equal(blobGets, 0);
      }
      assert.deepEqual(await tagsUnder(reg, 'mirror'), expected);
      record(`Nexus: mount not honoured (${form})`, 'correct');
    });
  }

  it('Nexus: a delta whose base blobs are in another repository gets them copied over (mount refused), not BASE_MISSING', async () => {
    const { reg, proxy } = await site(nexusPersonality());
    resultOf(await importInto(`${proxy.host}/base`));
    const delta = join(world.ws.dir, 'delta.tar.zst');
    await exportTo(world, delta, ['--since', bundle]);
    const doc = resultOf(await importInto(`${proxy.host}/other`, [], delta));
    assert.equal(doc.blobsMounted, 0);
    assert.ok(doc.blobsPushed > 0, 'no base blob was copied over');
    assert.deepEqual(await tagsUnder(reg, 'other'), expected);
    record('Nexus: delta base blobs in another repository', 'correct');
  });

  // -------------------------------------------------------------------------------------------
  // Quay: namespace/repository only; and without OCI support

  it('Quay (no nested names): --to HOST/org is refused at the token service; PATH_TOO_DEEP proposes --to HOST before any push', async () => {
    const { reg, proxy } = await site(quayPersonality({ users: USERS }));
    const r = await importInto(`${proxy.host}/org`, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 2, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'PATH_TOO_DEEP');
    assert.match(e.message, /at most 2 components/);
    assert.ok((e.hint ?? '').includes(`--to ${proxy.host}\``), e.hint);
    assert.ok(proxy.tokenRequests.some((q) => q.status === 400), 'the token service never refused');
    await assertNothingImported(reg, proxy);
    record('Quay: nested path refused (NAME_INVALID)', 'clear-error', e.code);
  });

  it('Quay, --layout scoped: the hint proposes --layout flat; with it the import completes', async () => {
    const { reg, proxy } = await site(quayPersonality({ users: USERS }));
    const r = await importInto(proxy.host, ['--layout', 'scoped', '--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 2, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'PATH_TOO_DEEP');
    assert.match(e.hint ?? '', /--layout flat/);
    await assertNothingImported(reg, proxy);
    resultOf(await importInto(proxy.host, ['--layout', 'flat', '--dest-creds', `${DEV}:${DEV_PASSWORD}`]));
    assert.deepEqual(await tagsUnder(reg, ''), expected);
    record('Quay: scoped layout too deep, flat fits', 'correct', e.code);
  });

  it('Quay without OCI support (415 on OCI media types): MEDIA_TYPE_UNSUPPORTED names the OCI artifacts before the first blob', async () => {
    const { reg, proxy } = await site(quayPersonality({ users: USERS, ociSupport: false }));
    const r = await importInto(proxy.host, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 1, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'MEDIA_TYPE_UNSUPPORTED');
    assert.match(e.message, /OCI image indexes/);
    assert.match(e.message, /demo\/multi:1\.0/);
    assert.match(e.hint ?? '', /FEATURE_GENERAL_OCI_SUPPORT/);
    await assertNothingImported(reg, proxy);
    record('Quay: OCI media types refused (415)', 'clear-error', e.code);
  });

  // -------------------------------------------------------------------------------------------
  // GitLab: the project path plus two levels

  it('GitLab (project path + 2 levels): a scoped path one level deeper is refused (insufficient_scope); PATH_TOO_DEEP proposes --layout flat', async () => {
    const { reg, proxy } = await site(gitlabPersonality({ users: USERS, projects: ['group/project'] }));
    const r = await importInto(`${proxy.host}/group/project`, ['--layout', 'scoped', '--dest-creds', `${DEV}:${DEV_PASSWORD}`]);
    assert.equal(r.code, 2, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'PATH_TOO_DEEP');
    assert.match(e.message, /at most 4 components/);
    assert.match(e.hint ?? '', /--layout flat/);
    assert.ok(proxy.log.some((l) => l.rule === 'insufficient scope'));
    await assertNothingImported(reg, proxy);
    resultOf(await importInto(`${proxy.host}/group/project`, ['--dest-creds', `${DEV}:${DEV_PASSWORD}`]));
    assert.deepEqual(await tagsUnder(reg, 'group/project'), expected);
    record('GitLab: path deeper than project + 2 refused', 'correct', e.code);
  });

  // -------------------------------------------------------------------------------------------
  // zot: OCI only (and the referrers API)

  it('zot (Docker media types refused, 415): MEDIA_TYPE_UNSUPPORTED names the Docker image before the first blob', async () => {
    const { reg, proxy } = await site(zotPersonality());
    const r = await importInto(`${proxy.host}/mirror`);
    assert.equal(r.code, 1, describeRun(r));
    const e = errorOf(r);
    assert.equal(e.code, 'MEDIA_TYPE_UNSUPPORTED');
    assert.match(e.message, /Docker schema 2 manifests/);
    assert.match(e.message, /demo\/legacy:1\.0/);
    assert.match(e.hint ?? '', /docker2s2/);
    await assertNothingImported(reg, proxy);
    record('zot: Docker media types refused (415)', 'clear-error', e.code);
  });

  // -------------------------------------------------------------------------------------------
  // OCI 1.1 referrers API

  it('referrers API: the SBOM is pushed with its subject, OCI-Subject answered, listed through the API, and no sha256-<hex> fallback tag is written', async () => {
    const { reg, proxy } = await site(referrersApiPersonality());
    const doc = resultOf(await importInto(`${proxy.host}/mirror`));
    const got = await tagsUnder(reg, 'mirror');
    assert.deepEqual(Object.keys(got).filter((k) => FALLBACK_TAG.test(k)), [], 'a fallback tag was written');
    const want = Object.fromEntries(Object.entries(expected).filter(([k]) => !FALLBACK_TAG.test(k)));
    assert.deepEqual(got, want);
    const subjectPushes = proxy.log.filter((l) => l.rule === 'OCI-Subject');
    assert.ok(subjectPushes.length >= 1, 'no manifest was pushed with a subject');
    // Listed through the API, as any client reads it.
    const sbom = doc.artifacts.find((a) => a.kind === 'referrer' && !a.target.includes(':sha256-'));
    assert.ok(sbom, JSON.stringify(doc.artifacts));
    const app = world.seeded.find('demo/app', '1.0');
    const client = createRegistryClient(proxy.host, { tls: 'plain-http' });
    try {
      const listed = await client.repository('mirror/demo/app').referrers({ mediaType: app.mediaType, digest: app.digest, size: app.size } as Descriptor);
      assert.ok(listed.some((d) => d.digest === sbom.digest), `the API does not list ${sbom.digest}`);
      assert.equal(await client.supportsReferrersApi('mirror/demo/app'), true);
    } finally {
      await client.close();
    }
    assert.ok(proxy.referrers('mirror/demo/app', app.digest).some((d) => d.digest === sbom.digest));
    record('referrers API: no fallback tag', 'correct');
  });

  // -------------------------------------------------------------------------------------------
  // registry probe

  it('registry probe reports each personality: Harbor project, mount, path depth, media types, referrers API', async () => {
    const probe = async (to: string, creds?: string): Promise<Record<string, unknown>> => {
      const r = await runCli(['registry', 'probe', to, '--dest-tls-verify=false', '--json', ...(creds ? ['--dest-creds', creds] : [])], { env: world.ws.env });
      assert.equal(r.code, 0, describeRun(r));
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const dev = `${DEV}:${DEV_PASSWORD}`;
    const plain = await site({ name: 'distribution' });
    const p0 = await probe(plain.proxy.host);
    assert.equal(p0.mount, true);
    assert.equal(p0.maxPathDepth, undefined);
    assert.equal(p0.referrersApi, false);

    const harbor = await site(harborPersonality({ users: USERS, projects: ['mirror'], creators: [ADMIN] }));
    const p1 = await probe(`${harbor.proxy.host}/mirror`, dev);
    assert.deepEqual(p1.harbor, { project: 'mirror', projectExists: true });
    assert.equal(p1.push, true);
    const p1b = await probe(`${harbor.proxy.host}/nowhere`, dev);
    assert.deepEqual(p1b.harbor, { project: 'nowhere', projectExists: false });
    assert.equal(p1b.push, false);

    const nexus = await site(nexusPersonality());
    assert.equal((await probe(nexus.proxy.host)).mount, false);

    const quay = await site(quayPersonality({ users: USERS }));
    const p3 = await probe(`${quay.proxy.host}/org`, dev);
    assert.equal(p3.maxPathDepth, 2);

    const gitlab = await site(gitlabPersonality({ users: USERS, projects: ['group/project'] }));
    assert.equal((await probe(`${gitlab.proxy.host}/group/project`, dev)).maxPathDepth, 4);

    const noOci = await site(quayPersonality({ users: USERS, ociSupport: false }));
    const p5 = await probe(`${noOci.proxy.host}/org`, dev);
    assert.equal(p5.ociManifest, false);
    assert.equal(p5.ociIndex, false);
    assert.equal(p5.dockerManifest, true);

    const zot = await site(zotPersonality());
    const p6 = await probe(zot.proxy.host);
    assert.equal(p6.dockerManifest, false);
    assert.equal(p6.ociIndex, true);
    assert.equal(p6.referrersApi, true);
    recordOutcome({ group: 'personalities', scenario: 'registry probe reports each personality', side: 'probe', outcome: 'correct', corrupt: false });
  });
});
