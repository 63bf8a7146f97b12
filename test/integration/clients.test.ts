/**
 * Issue 17.2: the deployment outputs work with the real clients. For each variant, inside a
 * loopback-only network namespace (fixtures/harness/netns.ts): export from an upstream registry, stop it,
 * import into the mirror, then containerd (`ctr images pull --hosts-dir` the generated
 * containerd/certs.d) and podman (the generated registries.conf.d and containers/certs.d installed
 * as its /etc/containers) pull the upstream names by tag and by digest, and a mirrored name. The
 * mirror's access log shows who asked; a control run with the mirror stopped too must fail, so
 * nothing but the mirror could have answered. CRI-O reads registries.conf through the same library
 * as podman (containers/image); k3s is not installed here: its file gets the schema check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkK3sRegistries } from '../helpers/k3s-registries.js';
import { CLIENTS_SCENARIO, SCENARIO_HOSTS, type ClientsVariant, type ScenarioReport } from '../../fixtures/harness/clients-scenario.js';
import { namespaceSupport, runInLoopbackNamespace } from '../../fixtures/harness/netns.js';
import { recordOutcome } from '../../fixtures/harness/outcome.js';

const VARIANTS: readonly ClientsVariant[] = [
  // The reproduction: --dest-tls-verify=false into a plain-HTTP registry wrote https:// and containerd failed.
  { name: 'plain HTTP (--dest-tls-verify=false), flat layout, no prefix', mirror: 'http', auth: false, prefix: '', layout: 'flat' },
  { name: 'plain HTTP, basic auth, scoped layout, /PREFIX', mirror: 'http', auth: true, prefix: 'airgap/mirror', layout: 'scoped' },
  { name: 'TLS with a private CA (--dest-cert-dir), flat layout, /PREFIX', mirror: 'tls-ca', auth: false, prefix: 'mirror', layout: 'flat' },
  { name: 'TLS with a private CA, basic auth, scoped layout, no prefix', mirror: 'tls-ca', auth: true, prefix: '', layout: 'scoped' },
  { name: 'TLS not verified (--dest-tls-verify=false against TLS), flat layout, /PREFIX', mirror: 'tls-skip-verify', auth: false, prefix: 'mirror', layout: 'flat' },
  { name: 'Docker Hub names (docker.io/library/…), TLS with a private CA, flat layout, /PREFIX', mirror: 'tls-ca', auth: false, prefix: 'hub', layout: 'flat', dockerHub: true },
  { name: 'Docker Hub names, plain HTTP, basic auth, scoped layout', mirror: 'http', auth: true, prefix: '', layout: 'scoped', dockerHub: true },
];

/** Where a source repository lands in the mirror (README "Import", `--layout`). */
function targetPath(v: ClientsVariant, upstream: string, repository: string): string {
  return [v.prefix, v.layout === 'scoped' ? upstream.replace(/:/g, '_') : '', repository].filter((s) => s !== '').join('/');
}

function checkFiles(v: ClientsVariant, r: ScenarioReport): void {
  const scheme = v.mirror === 'http' ? 'http' : 'https';
  const dir = r.upstream;
  const hosts = r.files[`containerd/certs.d/${dir}/hosts.toml`];
  assert.ok(hosts, `no hosts.toml for ${dir}: ${Object.keys(r.files).join(', ')}`);
  const mirrorPath = [v.prefix, v.layout === 'scoped' ? r.upstream.replace(/:/g, '_') : ''].filter((s) => s !== '').join('/');
  assert.ok(hosts.includes(`[host."${scheme}://${r.mirror}${mirrorPath ? `/v2/${mirrorPath}` : ''}"]`), hosts);
  assert.equal(/^\s*skip_verify = true$/m.test(hosts), v.mirror === 'tls-skip-verify', hosts);
  assert.equal(/^\s*ca = "ca\.crt"$/m.test(hosts), v.mirror === 'tls-ca', hosts);
  assert.equal(r.files[`containers/certs.d/${r.mirror}/ca.crt`] !== undefined, v.mirror === 'tls-ca');
  const conf = r.files['registries.conf.d/airlock.conf'] ?? '';
  assert.equal(/insecure = true/.test(conf), v.mirror !== 'tls-ca', conf);
  const k3s = checkK3sRegistries(r.files['k3s-registries.yaml'] ?? '');
  assert.deepEqual(k3s.problems, []);
  assert.deepEqual(k3s.value.mirrors[r.upstream]?.endpoint, [`${scheme}://${r.mirror}`]);
  assert.equal(k3s.value.configs[r.mirror]?.auth, undefined, 'a credential was written into k3s-registries.yaml');
  for (const [path, text] of Object.entries(r.files)) assert.ok(!text.includes('mirror-secret-9'), `${path} holds the password`);
}

describe('deployment outputs with the real clients, in a loopback-only network namespace (issue 17.2)', () => {
  for (const v of VARIANTS) {
    it(`${v.name}: ctr and podman pull every name by tag and by digest from the mirror alone`, { timeout: 600_000 }, async (t) => {
      // docs/RELIABILITY.md "Real clients": one row per variant, failed unless every check below held.
      let held = false;
      let pulled = '';
      t.after(() => recordOutcome({ group: 'clients', scenario: v.name, side: 'import', outcome: held ? 'correct' : 'failed', corrupt: false, ...(pulled ? { detail: pulled } : {}) }));
      const unsupported = namespaceSupport();
      assert.equal(unsupported, undefined, `these tests run containerd and podman in a network namespace: ${unsupported}`);
      const { value: r } = await runInLoopbackNamespace<ScenarioReport>(
        { module: CLIENTS_SCENARIO, fn: 'pullThroughMirror', args: v, hosts: [...SCENARIO_HOSTS] },
        { timeoutMs: 540_000 },
      );
      // Nothing but the registries inside could answer: no interface but lo, the upstream gone.
      assert.deepEqual(r.interfaces, ['lo']);
      assert.equal(r.upstreamAfterStop, 'refused');
      assert.equal(r.importCode, 0, r.importOutput);
      checkFiles(v, r);
      const show = (p: { ref: string; code: number | null; stderr: string }): string => `${p.ref}: exit ${p.code}\n${p.stderr}\n--- files\n${Object.entries(r.files).filter(([k]) => !k.endsWith('.crt') && k !== 'image-map.json').map(([k, t]) => `# ${k}\n${t}`).join('\n')}`;

      assert.equal(r.containerd.pulls.length, 5);
      for (const p of r.containerd.pulls) {
        assert.equal(p.code, 0, `ctr ${show(p)}`);
        const image = r.containerd.images.find((i) => i.ref === p.ref);
        assert.equal(image?.digest, p.digest, `ctr holds ${p.ref} as ${image?.digest}`);
        assert.match(r.containerd.check[p.ref] ?? '', /^complete/, `ctr images check ${p.ref}`);
      }
      const index = r.containerd.images.find((i) => i.mediaType.includes('index'));
      assert.deepEqual(index?.platforms, ['linux/amd64', 'linux/arm64']);

      assert.equal(r.podman.pulls.length, 5);
      for (const p of r.podman.pulls) {
        assert.equal(p.code, 0, `podman ${show(p)}`);
        assert.equal(p.image?.digest, p.digest, `podman holds ${p.ref} as ${p.image?.digest}`);
      }
      const arm = r.podman.arm64!;
      assert.equal(arm.code, 0, `podman --arch arm64 ${show(arm)}`);
      assert.equal(arm.image?.architecture, 'arm64');
      assert.ok(arm.image?.repoDigests.includes(`${arm.ref.replace(/:[^:/]+$/, '')}@${arm.digest}`), String(arm.image?.repoDigests));

      // The mirror's access log: both clients asked it for both repositories, where import put them.
      assert.ok(r.mirrorLog.containerd > 0 && r.mirrorLog.podman > 0, JSON.stringify(r.mirrorLog));
      const repos = v.dockerHub ? ['library/app', 'acme/multi'] : ['demo/app', 'demo/multi'];
      for (const repo of repos) {
        const path = targetPath(v, r.upstream, repo);
        assert.ok(r.mirrorLog.paths.some((p) => p.startsWith(`/v2/${path}/manifests/`)), `no manifest request for ${path}: ${r.mirrorLog.paths.join(', ')}`);
      }

      // Control: the mirror stopped too, empty stores: the same names cannot be pulled from anywhere.
      assert.equal(r.control.ctr.length + r.control.podman.length, 2);
      for (const p of [...r.control.ctr, ...r.control.podman]) assert.notEqual(p.code, 0, `pulled ${p.ref} with the mirror stopped`);
      held = true;
      pulled = `ctr ${r.containerd.pulls.filter((p) => p.code === 0).length}/5 and podman ${r.podman.pulls.filter((p) => p.code === 0).length}/5 pulls (tag and digest) + podman arm64 from the mirror alone; mirror stopped: ${r.control.ctr.length + r.control.podman.length} control pulls refused`;
      t.diagnostic(`stages (ms): ${JSON.stringify(r.timings)}`);
    });
  }
});
