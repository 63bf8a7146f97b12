/**
 * Issue 11, network faults: the fault-injecting proxy sits in front of a real Distribution
 * registry, once as the export's upstream and once as the import's target. Every scenario must end
 * with the right result or a coded error; an export never leaves a file under the output's name
 * unless it is a whole, verifying bundle, and an import never leaves a corrupt blob or a tag on
 * incomplete or wrong content in the target (checked with the harness's own HTTP client). After an
 * error, a re-run without faults must finish and equal a clean run.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { readBundleFront } from '../../src/bundle/index.js';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../../fixtures/harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  SOAK, checkRegistry, cleanBaseline, describeRun, exportTo, importArgs, makeWorld, mirrorYaml, recordOutcome, runCli, type CliResult, type World,
} from '../../fixtures/harness/reliability.js';

const BLOB = /\/blobs\/sha256:/;
const UPLOAD = /\/blobs\/uploads\//;
const MANIFEST = /\/manifests\//;
const MANIFEST_BY_DIGEST = /\/manifests\/sha256:/;

interface Scenario {
  readonly name: string;
  readonly exportRules: readonly FaultRule[];
  readonly importRules: readonly FaultRule[];
  /** The proxy must never forward our credentials to its alternate origin. */
  readonly redirect?: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: '5xx bursts',
    exportRules: [
      { path: MANIFEST, nth: [1, 2, 3], action: { kind: 'status', status: 503 } },
      { method: 'GET', path: BLOB, nth: [1, 2, 3, 5, 8], action: { kind: 'status', status: 502 } },
    ],
    importRules: [
      { method: 'HEAD', nth: [1, 2], action: { kind: 'status', status: 503 } },
      { method: 'POST', path: UPLOAD, nth: [1, 2, 3], action: { kind: 'status', status: 503 } },
      { method: 'PUT', path: UPLOAD, nth: [1, 4], action: { kind: 'status', status: 500 } },
      { method: 'PUT', path: MANIFEST, nth: [1, 2], action: { kind: 'status', status: 502 } },
    ],
  },
  {
    name: '429 with Retry-After',
    exportRules: [
      { method: 'GET', path: BLOB, nth: [1, 4], action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
      { path: MANIFEST, nth: [2], action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
    ],
    importRules: [
      { method: 'POST', path: UPLOAD, nth: [1, 5], action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
      { method: 'PUT', path: MANIFEST, nth: [1], action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
    ],
  },
  {
    name: 'connection reset mid-body',
    exportRules: [{ method: 'GET', path: BLOB, nth: [1, 2, 6], action: { kind: 'reset-response', afterBytes: 300 } }],
    importRules: [
      { method: 'PUT', path: UPLOAD, nth: [1, 3], action: { kind: 'reset-request', afterBytes: 300 } },
      { method: 'PATCH', path: UPLOAD, nth: [1], action: { kind: 'reset-request', afterBytes: 300 } },
    ],
  },
  {
    name: 'stalled responses',
    exportRules: [
      { method: 'GET', path: BLOB, nth: [1], action: { kind: 'stall', ms: 2500 } },
      { path: MANIFEST, nth: [2], action: { kind: 'stall', ms: 1500 } },
    ],
    importRules: [
      { method: 'PUT', path: MANIFEST, nth: [1], action: { kind: 'stall', ms: 2500 } },
      { method: 'HEAD', nth: [3], action: { kind: 'stall', ms: 1500 } },
    ],
  },
  {
    name: 'truncated bodies',
    exportRules: [
      { method: 'GET', path: BLOB, nth: [1, 3], action: { kind: 'truncate-response', afterBytes: 200 } },
      { method: 'GET', path: MANIFEST_BY_DIGEST, nth: [1], action: { kind: 'truncate-response', afterBytes: 40 } },
    ],
    importRules: [
      { method: 'PUT', path: UPLOAD, nth: [2], action: { kind: 'reset-request', afterBytes: 1 } },
      { method: 'GET', path: MANIFEST, nth: [1], action: { kind: 'truncate-response', afterBytes: 20 } },
      { method: 'PUT', path: MANIFEST, nth: [2], action: { kind: 'reset-request', afterBytes: 10 } },
    ],
  },
  {
    name: 'wrong Content-Length',
    exportRules: [
      { method: 'GET', path: BLOB, nth: [1, 2], action: { kind: 'wrong-length', length: 100 } },
      { method: 'GET', path: MANIFEST_BY_DIGEST, nth: [1], action: { kind: 'wrong-length', length: 30 } },
    ],
    importRules: [
      { method: 'HEAD', path: BLOB, nth: [1, 2, 3], action: { kind: 'wrong-length', length: 7 } },
      { method: 'GET', path: MANIFEST, nth: [1], action: { kind: 'wrong-length', length: 10 } },
    ],
  },
  {
    name: 'manifest bytes do not match the digest',
    // Every manifest answer gets a trailing newline: still valid JSON, other digest.
    exportRules: [{ method: 'GET', path: MANIFEST, action: { kind: 'alter-response', append: '\n' } }],
    importRules: [{ method: 'PUT', path: MANIFEST, action: { kind: 'alter-request', append: '\n' } }],
  },
  {
    name: 'redirect to another host',
    exportRules: [{ method: 'GET', path: BLOB, action: { kind: 'redirect-alt' } }],
    importRules: [{ path: BLOB, action: { kind: 'redirect-alt' } }],
    redirect: true,
  },
];

/** A coded error (not INTERNAL, not a crash) with the contract's runtime or verification exit. */
function isClearError(r: CliResult): boolean {
  return (r.code === 1 || r.code === 3) && r.errorCode !== undefined && r.errorCode !== 'INTERNAL' && /^error: /m.test(r.stderr);
}

function noCredentialsFollowed(proxy: FaultProxy, reg: TestRegistry): void {
  const ours = `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
  assert.ok(proxy.altRequests.length > 0, 'the redirect was followed');
  for (const r of proxy.altRequests) assert.notEqual(r.headers.authorization, ours, `credentials followed a redirect to ${r.path}`);
}

describe('reliability: network faults on export and import', { concurrency: 1 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let cleanArtifacts: string;
  let cleanTags: Readonly<Record<string, string>>;
  let zst: string;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry({ auth: 'htpasswd' });
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'faults');
    // The world's mirror list has no credentials: the faults suite passes --src-creds.
    zst = join(world.ws.dir, 'clean.tar.zst');
    await exportTo(world, zst, [`--src-creds=${upstream.username}:${upstream.password}`]);
    cleanArtifacts = await artifactsOf(zst);
    const target = await startRegistry({ auth: 'htpasswd' });
    disposers.push(() => target.stop());
    const c = await cleanBaseline(world, zst, target, [`--dest-creds=${target.username}:${target.password}`]);
    assert.deepEqual(c.problems, []);
    cleanTags = c.tags;
    assert.ok(Object.keys(cleanTags).length >= 8);
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  for (const [i, s] of SCENARIOS.entries()) {
    it(`export: ${s.name}`, async () => {
      const proxy = await startFaultProxy({ upstream: upstream.host, rules: s.exportRules, altAuthorization: basic(upstream) });
      disposers.push(() => proxy.stop());
      const mirror = join(world.ws.dir, `mirror-${proxy.host.replace(/\W/g, '-')}.yaml`);
      await writeFile(mirror, mirrorYaml(world.seeded, proxy.host));
      const out = join(world.ws.dir, `export-${s.name.replace(/\W+/g, '-')}.tar`);
      const args = ['bundle', 'export', '-f', mirror, '-o', out, '--sign-key', world.key, '--json',
        '--cache', join(world.ws.dir, `cache-${s.name.replace(/\W+/g, '-')}`), `--src-creds=${upstream.username}:${upstream.password}`];
      const r = await runCli(args, { env: world.ws.env });
      if (s.exportRules.length > 0) assert.ok(proxy.counters.faults > 0, 'the scenario injected faults');
      let outcome: 'correct' | 'clear-error';
      if (r.code === 0) {
        outcome = 'correct';
        assert.equal(await artifactsOf(out), cleanArtifacts, 'the bundle holds the upstream digests');
        const v = await runCli(['bundle', 'verify', out, '--verify-key', world.pub], { env: world.ws.env });
        assert.equal(v.code, 0, describeRun(v));
      } else {
        assert.ok(isClearError(r), describeRun(r));
        outcome = 'clear-error';
        assert.ok(!existsSync(out), 'no partial output under the final name');
        proxy.setRules([]);
        const again = await runCli(args, { env: world.ws.env });
        assert.equal(again.code, 0, describeRun(again));
        assert.equal(await artifactsOf(out), cleanArtifacts);
      }
      if (s.redirect) noCredentialsFollowed(proxy, upstream);
      recordOutcome({ group: 'faults', scenario: s.name, side: 'export', outcome, corrupt: false, detail: r.errorCode ?? '' });
    });

    // Both bundle forms under AIRLOCK_SOAK; in CI, sequential (.tar.zst) and random-access (.tar)
    // imports take turns.
    const forms = SOAK ? (['tar.zst', 'tar'] as const) : ([i % 2 === 0 ? 'tar.zst' : 'tar'] as const);
    for (const form of forms) {
      it(`import (${form}): ${s.name}`, async () => {
        const target = await startRegistry({ auth: 'htpasswd' });
        disposers.push(() => target.stop());
        const proxy = await startFaultProxy({ upstream: target.host, rules: s.importRules, altAuthorization: basic(target) });
        disposers.push(() => proxy.stop());
        const bundle = form === 'tar.zst' ? zst : await tarBundle();
        const state = join(world.ws.dir, `state-${form}-${s.name.replace(/\W+/g, '-')}`);
        const args = [...importArgs(world, bundle, proxy.host, state), `--dest-creds=${target.username}:${target.password}`];
        const r = await runCli(args, { env: world.ws.env });
        assert.ok(proxy.counters.faults > 0, 'the scenario injected faults');
        const c = await checkRegistry(target);
        const wrongTags = Object.entries(c.tags).filter(([k, d]) => cleanTags[k] !== d).map(([k, d]) => `${k} → ${d}`);
        const corrupt = c.problems.length > 0 || wrongTags.length > 0;
        recordOutcome({ group: 'faults', scenario: s.name, side: `import ${form}`, outcome: r.code === 0 ? 'correct' : isClearError(r) ? 'clear-error' : 'failed', corrupt, detail: r.errorCode ?? '' });
        assert.deepEqual(c.problems, [], 'no corrupt blob, no tag on incomplete content');
        assert.deepEqual(wrongTags, [], 'no tag on other content than the bundle\'s');
        if (r.code === 0) {
          assert.deepEqual(c.tags, cleanTags, describeRun(r));
        } else {
          assert.ok(isClearError(r), describeRun(r));
          proxy.setRules([]);
          const again = await runCli(args, { env: world.ws.env });
          assert.equal(again.code, 0, describeRun(again));
          assert.deepEqual((await checkRegistry(target)).tags, cleanTags);
        }
        if (s.redirect) noCredentialsFollowed(proxy, target);
      });
    }
  }

  let tarPath: string | undefined;
  async function tarBundle(): Promise<string> {
    if (!tarPath) {
      tarPath = join(world.ws.dir, 'clean.tar');
      await exportTo(world, tarPath, [`--src-creds=${upstream.username}:${upstream.password}`]);
    }
    return tarPath;
  }
});

function basic(reg: TestRegistry): string {
  return `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
}

/**
 * The artifact list of a bundle (source, digest) from its airlock.json, with registry hosts
 * written as HOST so runs through a proxy compare with the clean run.
 */
async function artifactsOf(bundle: string): Promise<string> {
  const front = await readBundleFront(bundle);
  return front.manifest.artifacts.map((a) => `${a.source} ${a.digest}`).sort().join('\n').replace(/127\.0\.0\.1:\d+/g, 'HOST');
}
