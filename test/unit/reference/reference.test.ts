import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReference, mapRepository, parseChartReference, parseReference, parseTarget, registryOf, splitReference } from '../../../src/reference/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  const good: [string, string, string, string | undefined, string | undefined][] = [
    ['nginx', 'docker.io', 'library/nginx', undefined, undefined],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', undefined],
    ['docker.io/library/nginx:1.27', 'docker.io', 'library/nginx', '1.27', undefined],
    ['index.docker.io/library/nginx', 'docker.io', 'library/nginx', undefined, undefined],
    ['registry-1.docker.io/apache/superset:4.1.2', 'docker.io', 'apache/superset', '4.1.2', undefined],
    ['apache/superset:4.1.2', 'docker.io', 'apache/superset', '4.1.2', undefined],
    ['ghcr.io/sentari-dev/sentari/server:1.0.0', 'ghcr.io', 'sentari-dev/sentari/server', '1.0.0', undefined],
    ['localhost/app', 'localhost', 'app', undefined, undefined],
    ['localhost:5000/app:v1', 'localhost:5000', 'app', 'v1', undefined],
    ['127.0.0.1:5000/a/b/c:latest', '127.0.0.1:5000', 'a/b/c', 'latest', undefined],
    [`ghcr.io/x/y@${D}`, 'ghcr.io', 'x/y', undefined, D],
    [`ghcr.io/x/y:1.0@${D}`, 'ghcr.io', 'x/y', '1.0', D],
    [`redis@${D}`, 'docker.io', 'library/redis', undefined, D],
    ['quay.io/org/my_app__x-y.z:v1.2.3-rc.1', 'quay.io', 'org/my_app__x-y.z', 'v1.2.3-rc.1', undefined],
    ['REGISTRY.Example.com/app:Tag_1', 'registry.example.com', 'app', 'Tag_1', undefined],
    ['[::1]:5000/app:v1', '[::1]:5000', 'app', 'v1', undefined],
  ];
  for (const [input, registry, repository, tag, digest] of good) {
    it(`parses ${input}`, () => {
      const r = parseReference(input);
      assert.equal(r.registry, registry);
      assert.equal(r.repository, repository);
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
    });
  }

  const bad = [
    '', ' ', 'upper/Case', 'nginx:', 'nginx@sha256:abc', 'nginx@md5:' + 'a'.repeat(32), 'docker://nginx',
    'a//b', '-a/b', 'a/b:-tag', 'host:99999/app', 'host:0/app', `a:${'x'.repeat(129)}`, 'nginx:1.27 ', 'ng inx',
    'registry.local:5001/', `x/${'a'.repeat(260)}`, 'foo/Bar', 'a..b.com/x', 'x/y:tag:again',
  ];
  for (const input of bad) {
    it(`rejects ${JSON.stringify(input)} with REFERENCE_INVALID`, () => {
      if (input === 'nginx:1.27 ') {
        // surrounding whitespace is trimmed: this one is fine
        assert.equal(parseReference(input).tag, '1.27');
        return;
      }
      assertThrowsCode(() => parseReference(input), 'REFERENCE_INVALID');
    });
  }

  it('names where the reference came from in the error', () => {
    const e = assertThrowsCode(() => parseReference('Bad', { where: 'mirror.yaml:3:5' }), 'REFERENCE_INVALID');
    assert.equal(e.where, 'mirror.yaml:3:5');
    assert.ok(e.hint);
  });

  it('refuses a bare repository when allowBare is false', () => {
    assertThrowsCode(() => parseReference('ghcr.io/x/y', { allowBare: false }), 'REFERENCE_INVALID');
  });

  it('round-trips through formatReference', () => {
    for (const s of ['docker.io/library/nginx:1.27', `ghcr.io/x/y:1.0@${D}`, 'localhost:5000/a/b']) {
      assert.equal(formatReference(parseReference(s)), s);
    }
  });
});

describe('parseChartReference (the text after oci://)', () => {
  it('reads a host-like first component as the registry, as helm and the Docker grammar both do', () => {
    assert.deepEqual(parseChartReference('ghcr.io/org/charts/app'), { registry: 'ghcr.io', repository: 'org/charts/app' });
    assert.deepEqual(parseChartReference('harbor:8443/charts/app'), { registry: 'harbor:8443', repository: 'charts/app' });
    assert.deepEqual(parseChartReference('localhost/charts/app'), { registry: 'localhost', repository: 'charts/app' });
    assert.deepEqual(parseChartReference('registry-1.docker.io/bitnamicharts/nginx'), { registry: 'docker.io', repository: 'bitnamicharts/nginx' });
  });

  it('refuses a dotless, portless first component: helm asks that host, the Docker grammar Docker Hub', () => {
    // parseReference reads the same text as Docker Hub's: the disagreement this guards against.
    assert.equal(parseReference('harbor/charts/app').registry, 'docker.io');
    const err = assertThrowsCode(() => parseChartReference('harbor/charts/app', { where: 'mirror.yaml:3:10' }), 'REFERENCE_INVALID');
    assert.match(err.message, /invalid chart reference "oci:\/\/harbor\/charts\/app": helm reads "harbor" as the registry's host/);
    assert.equal(err.where, 'mirror.yaml:3:10');
    assert.match(err.hint ?? '', /oci:\/\/harbor\.example\.com\/charts\/NAME, oci:\/\/harbor:443\/charts\/NAME/);
    assert.match(assertThrowsCode(() => parseChartReference('app'), 'REFERENCE_INVALID').message, /it names no registry/);
  });

  it('checks the rest as parseReference does', () => {
    assertThrowsCode(() => parseChartReference('ghcr.io/Org/app'), 'REFERENCE_INVALID');
    assertThrowsCode(() => parseChartReference(''), 'REFERENCE_INVALID');
  });
});

describe('splitReference and registryOf', () => {
  // [input, name, registry, path, tag, digest, registryOf]
  const table: [string, string, string | undefined, string, string | undefined, string | undefined, string][] = [
    ['127.0.0.1:5000/app:1.0', '127.0.0.1:5000/app', '127.0.0.1:5000', 'app', '1.0', undefined, '127.0.0.1:5000'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app', '127.0.0.1:5000', 'app', undefined, undefined, '127.0.0.1:5000'],
    [`127.0.0.1:5000/a/b@${D}`, '127.0.0.1:5000/a/b', '127.0.0.1:5000', 'a/b', undefined, D, '127.0.0.1:5000'],
    [`docker.io/library/nginx:1.27@${D}`, 'docker.io/library/nginx', 'docker.io', 'library/nginx', '1.27', D, 'docker.io'],
    ['ghcr.io/x/y', 'ghcr.io/x/y', 'ghcr.io', 'x/y', undefined, undefined, 'ghcr.io'],
    ['library/nginx', 'library/nginx', undefined, 'library/nginx', undefined, undefined, 'docker.io'],
    ['apache/superset:4.1.2', 'apache/superset', undefined, 'apache/superset', '4.1.2', undefined, 'docker.io'],
    ['nginx', 'nginx', undefined, 'nginx', undefined, undefined, 'docker.io'],
    ['localhost/app:v1', 'localhost/app', 'localhost', 'app', 'v1', undefined, 'localhost'],
    ['index.docker.io/library/nginx', 'index.docker.io/library/nginx', 'index.docker.io', 'library/nginx', undefined, undefined, 'docker.io'],
    ['[::1]:5000/app:v1', '[::1]:5000/app', '[::1]:5000', 'app', 'v1', undefined, '[::1]:5000'],
  ];
  for (const [input, name, registry, path, tag, digest, host] of table) {
    it(`splits ${input}`, () => {
      const p = splitReference(input);
      assert.deepEqual([p.name, p.registry, p.path, p.tag, p.digest], [name, registry, path, tag, digest]);
      assert.equal(registryOf(input), host);
    });
  }

  it('agrees with parseReference on every valid reference, and never throws', () => {
    for (const input of ['nginx:1.27', `ghcr.io/x/y:1.0@${D}`, 'localhost:5000/a/b', `redis@${D}`, '127.0.0.1:5000/app:1.0']) {
      const p = splitReference(input);
      const r = parseReference(input);
      assert.equal(p.tag, r.tag);
      assert.equal(p.digest, r.digest);
      assert.equal(registryOf(input), r.registry);
    }
    for (const input of ['', 'Upper/Case:', 'nginx@sha256:abc', 'a//b', 'x/y:tag:again']) {
      assert.doesNotThrow(() => splitReference(input));
      assert.doesNotThrow(() => registryOf(input));
    }
  });
});

describe('parseTarget and mapRepository', () => {
  const src = parseReference('docker.io/apache/superset:4.1.2');
  const lib = parseReference('nginx:1.27');
  const ghcr = parseReference('ghcr.io/sentari-dev/sentari/server:1.0.0');
  const port = parseReference('registry.local:5001/team/app:1');
  const table: [string, 'flat' | 'scoped', typeof src, string, string][] = [
    ['registry.intern', 'flat', src, 'registry.intern', 'apache/superset'],
    ['registry.intern/folder', 'flat', src, 'registry.intern', 'folder/apache/superset'],
    ['registry.intern/a/b/', 'flat', src, 'registry.intern', 'a/b/apache/superset'],
    ['registry.intern', 'scoped', src, 'registry.intern', 'docker.io/apache/superset'],
    ['registry.intern/mirror', 'scoped', ghcr, 'registry.intern', 'mirror/ghcr.io/sentari-dev/sentari/server'],
    ['127.0.0.1:5000', 'flat', lib, '127.0.0.1:5000', 'library/nginx'],
    ['127.0.0.1:5000', 'scoped', lib, '127.0.0.1:5000', 'docker.io/library/nginx'],
    ['h:1', 'scoped', port, 'h:1', 'registry.local_5001/team/app'],
  ];
  for (const [to, layout, ref, host, repo] of table) {
    it(`${layout} maps ${formatReference(ref)} into ${to} as ${repo}`, () => {
      const t = parseTarget(to);
      assert.equal(t.host, host);
      assert.equal(mapRepository(ref, t, layout), repo);
    });
  }
  for (const bad of ['', 'http://x', 'host/UPPER', 'host:port', '/x']) {
    it(`rejects --to ${JSON.stringify(bad)}`, () => void assertThrowsCode(() => parseTarget(bad), 'USAGE'));
  }
});
