import assert from 'node:assert/strict';
import { isAbsolute } from 'node:path';
import { describe, it } from 'node:test';
import { K3S_CA_FILE, mirrorConfigFiles, type MirrorConfigOptions, type TargetAccess } from '../../../src/deploy/index.js';
import { checkK3sRegistries } from '../../helpers/k3s-registries.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const PLAIN: TargetAccess = { scheme: 'http', skipVerify: false, auth: 'none', clientCertificate: false };
const WITH_CA: TargetAccess = { scheme: 'https', skipVerify: false, caPem: CA, auth: 'none', clientCertificate: false };
const SKIP: TargetAccess = { scheme: 'https', skipVerify: true, auth: 'none', clientCertificate: false };
const SYSTEM: TargetAccess = { scheme: 'https', skipVerify: false, auth: 'none', clientCertificate: false };

function files(o: Partial<MirrorConfigOptions> & { access: TargetAccess }): Map<string, string> {
  const all = mirrorConfigFiles({
    target: { host: 'mirror.site:5000', prefix: '' }, layout: 'flat', upstreams: ['ghcr.io', 'registry.local:5001'], ...o,
  });
  return new Map(all.map((f) => [f.path, f.text]));
}

const get = (m: Map<string, string>, path: string): string => {
  const t = m.get(path);
  assert.ok(t !== undefined, `${path} not written; written: ${[...m.keys()].join(', ')}`);
  return t;
};

describe('mirrorConfigFiles', () => {
  it('plain HTTP: every client is told http:// (hosts.toml, registries.conf insecure, k3s endpoint), the mirror\'s own name too', () => {
    const m = files({ access: PLAIN });
    const hosts = get(m, 'containerd/certs.d/ghcr.io/hosts.toml');
    assert.match(hosts, /^server = "https:\/\/ghcr\.io"$/m);
    assert.match(hosts, /^\[host\."http:\/\/mirror\.site:5000"\]$/m);
    assert.doesNotMatch(hosts, /override_path|skip_verify|ca = /);
    const own = get(m, 'containerd/certs.d/mirror.site:5000/hosts.toml');
    assert.match(own, /^server = "http:\/\/mirror\.site:5000"$/m);
    // containerd 1.6 ignores a hosts.toml without a [host] table.
    assert.match(own, /^\[host\."http:\/\/mirror\.site:5000"\]$/m);
    const conf = get(m, 'registries.conf.d/airlock.conf');
    assert.match(conf, /prefix = "registry\.local:5001"\nlocation = "registry\.local:5001"\n\n\[\[registry\.mirror\]\]\nlocation = "mirror\.site:5000"\ninsecure = true/);
    assert.match(conf, /\[\[registry\]\]\nlocation = "mirror\.site:5000"\ninsecure = true/);
    // A drop-in sets no globals: they would replace the node's own (containers-registries.conf.d(5)).
    assert.doesNotMatch(conf, /unqualified-search-registries/);
    const k3s = checkK3sRegistries(get(m, 'k3s-registries.yaml'));
    assert.deepEqual(k3s.problems, []);
    assert.deepEqual(k3s.value.mirrors['ghcr.io']?.endpoint, ['http://mirror.site:5000']);
    assert.deepEqual(k3s.value.configs, {});
    assert.equal([...m.keys()].some((p) => p.endsWith('.crt')), false);
  });

  it('TLS with a private CA: the CA is copied where each client reads it and referenced relatively by hosts.toml', () => {
    const m = files({ access: WITH_CA, target: { host: 'mirror.site:5000', prefix: 'airgap' }, layout: 'scoped' });
    for (const u of ['ghcr.io', 'registry.local:5001']) {
      const hosts = get(m, `containerd/certs.d/${u}/hosts.toml`);
      assert.match(hosts, new RegExp(`^\\[host\\."https://mirror\\.site:5000/v2/airgap/${u.replace(':', '_').replace(/\./g, '\\.')}"\\]$`, 'm'));
      assert.match(hosts, /^ {2}override_path = true$/m);
      assert.match(hosts, /^ {2}ca = "ca\.crt"$/m);
      assert.equal(get(m, `containerd/certs.d/${u}/ca.crt`), CA);
    }
    assert.equal(get(m, 'containers/certs.d/mirror.site:5000/ca.crt'), CA);
    assert.equal(get(m, 'containerd/certs.d/mirror.site:5000/ca.crt'), CA);
    const conf = get(m, 'registries.conf.d/airlock.conf');
    assert.match(conf, /location = "mirror\.site:5000\/airgap\/registry\.local_5001"/);
    assert.doesNotMatch(conf, /insecure/);
    const k3s = checkK3sRegistries(get(m, 'k3s-registries.yaml'));
    assert.deepEqual(k3s.problems, []);
    assert.deepEqual(k3s.value.mirrors['registry.local:5001'], { endpoint: ['https://mirror.site:5000'], rewrite: { '^(.*)$': 'airgap/registry.local_5001/$1' } });
    assert.equal(k3s.value.configs['mirror.site:5000']?.tls?.ca_file, K3S_CA_FILE);
    assert.ok(isAbsolute(K3S_CA_FILE));
  });

  it('TLS without verification (--dest-tls-verify=false against TLS): https with skip_verify, insecure, insecure_skip_verify; no CA', () => {
    const m = files({ access: SKIP });
    const hosts = get(m, 'containerd/certs.d/ghcr.io/hosts.toml');
    assert.match(hosts, /^\[host\."https:\/\/mirror\.site:5000"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}skip_verify = true$/m);
    assert.match(get(m, 'containerd/certs.d/mirror.site:5000/hosts.toml'), /^ {2}skip_verify = true$/m);
    assert.match(get(m, 'registries.conf.d/airlock.conf'), /insecure = true/);
    const k3s = checkK3sRegistries(get(m, 'k3s-registries.yaml'));
    assert.deepEqual(k3s.problems, []);
    assert.deepEqual(k3s.value.configs['mirror.site:5000']?.tls, { insecure_skip_verify: true });
  });

  it('TLS trusted by the system: no CA, no insecure flag, no file for the mirror\'s own name', () => {
    const m = files({ access: SYSTEM });
    assert.equal(m.has('containerd/certs.d/mirror.site:5000/hosts.toml'), false);
    assert.doesNotMatch(get(m, 'registries.conf.d/airlock.conf'), /insecure/);
    assert.doesNotMatch(get(m, 'containerd/certs.d/ghcr.io/hosts.toml'), /skip_verify|ca = /);
    assert.deepEqual(checkK3sRegistries(get(m, 'k3s-registries.yaml')).problems, []);
  });

  it('docker.io: the hosts dir is docker.io, its server registry-1.docker.io, and library/ paths map flat and scoped', () => {
    for (const layout of ['flat', 'scoped'] as const) {
      const m = files({ access: PLAIN, upstreams: ['docker.io'], target: { host: 'mirror.site:5000', prefix: 'hub' }, layout });
      const hosts = get(m, 'containerd/certs.d/docker.io/hosts.toml');
      assert.match(hosts, /^server = "https:\/\/registry-1\.docker\.io"$/m);
      const p = layout === 'flat' ? 'hub' : 'hub/docker.io';
      assert.match(hosts, new RegExp(`^\\[host\\."http://mirror\\.site:5000/v2/${p.replace('.', '\\.')}"\\]$`, 'm'));
      assert.match(get(m, 'registries.conf.d/airlock.conf'), new RegExp(`prefix = "docker\\.io"\\nlocation = "docker\\.io"\\n\\n\\[\\[registry\\.mirror\\]\\]\\nlocation = "mirror\\.site:5000/${p.replace('.', '\\.')}"`));
      const k3s = checkK3sRegistries(get(m, 'k3s-registries.yaml'));
      assert.deepEqual(k3s.problems, []);
      assert.deepEqual(k3s.value.mirrors['docker.io']?.rewrite, { '^(.*)$': `${p}/$1` });
    }
  });

  it('a target that asks for credentials: each file says where credentials go, and none holds one', () => {
    const m = files({ access: { ...WITH_CA, auth: 'basic', clientCertificate: true } });
    assert.match(get(m, 'registries.conf.d/airlock.conf'), /podman login mirror\.site:5000/);
    assert.match(get(m, 'containerd/certs.d/ghcr.io/hosts.toml'), /--user USER/);
    const yaml = get(m, 'k3s-registries.yaml');
    assert.match(yaml, /# auth: \{ username: USER, password: PASSWORD \}/);
    const k3s = checkK3sRegistries(yaml);
    assert.deepEqual(k3s.problems, []);
    assert.equal(k3s.value.configs['mirror.site:5000']?.auth, undefined);
    for (const text of m.values()) assert.doesNotMatch(text, /PRIVATE KEY/);
  });

  it('the mirror host that is also an upstream gets one entry, not two', () => {
    const m = files({ access: PLAIN, upstreams: ['mirror.site:5000'] });
    const conf = get(m, 'registries.conf.d/airlock.conf');
    assert.equal(conf.match(/^\[\[registry\]\]$/gm)?.length, 1);
    assert.match(get(m, 'containerd/certs.d/mirror.site:5000/hosts.toml'), /^\[host\."http:\/\/mirror\.site:5000"\]$/m);
  });
});

describe('checkK3sRegistries (the format check for k3s-registries.yaml)', () => {
  it('reports unknown keys, which k3s would ignore, and wrong types, which fail its decoder', () => {
    const { problems } = checkK3sRegistries([
      'mirrors:', '  docker.io:', '    endpoints: ["https://m"]', 'configs:', '  m:', '    tls:', '      insecure_skip_verify: "yes"', '      ca: /x',
      'extra: 1', '',
    ].join('\n'));
    assert.deepEqual(problems.sort(), [
      'configs.m.tls.ca: unknown key (k3s ignores it)',
      'configs.m.tls.insecure_skip_verify: not a boolean',
      'extra: unknown top-level key (k3s reads mirrors and configs)',
      'mirrors.docker.io.endpoints: unknown key (k3s ignores it)',
    ]);
  });
});
