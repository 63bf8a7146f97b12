import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteCompose, rewriteValues, type MirroredRepository } from '../../../src/deploy/rewrite.js';

const D = `sha256:${'d'.repeat(64)}`;
const M = (sourceRegistry: string, sourceRepository: string, targetRepository: string): MirroredRepository => ({ sourceRegistry, sourceRepository, targetHost: 'registry.example.com', targetRepository });

describe('rewriteValues', () => {
  const mirrored = [
    M('ghcr.io', 'cloudgrid-dev/cloudgrid-bff', 'cloudgrid/cloudgrid-dev/cloudgrid-bff'),
    M('ghcr.io', 'cloudgrid-dev/cloudgrid-api', 'cloudgrid/cloudgrid-dev/cloudgrid-api'),
    M('docker.io', 'library/redis', 'cloudgrid/library/redis'),
    M('quay.io', 'org/tool', 'cloudgrid/org/tool'),
  ];
  it('moves global.imageRegistry, registry/repository blocks and image strings to the mirror; tags, digests, comments and layout stay', () => {
    const text = [
      '# CloudGrid release values (vendor)',
      'global:',
      '  imageRegistry: ghcr.io/cloudgrid-dev   # where images come from',
      '',
      'bff:',
      '  image:',
      '    repository: cloudgrid-bff',
      `    digest: "${D}"`,
      'api:',
      '  image: { repository: cloudgrid-api, tag: "1.0.0" }',
      'cache:',
      '  image:',
      "    registry: 'docker.io'",
      '    repository: library/redis',
      '    tag: 7.2-alpine',
      'sidecarImage: quay.io/org/tool:2.1',
      'other:',
      '  image: docker.io/someone/else:1',
      '',
    ].join('\n');
    const r = rewriteValues(text, mirrored, 'v.yaml');
    assert.equal(r.text, text
      .replace('imageRegistry: ghcr.io/cloudgrid-dev ', 'imageRegistry: registry.example.com/cloudgrid/cloudgrid-dev ')
      .replace("registry: 'docker.io'", "registry: 'registry.example.com'")
      .replace('repository: library/redis', 'repository: cloudgrid/library/redis')
      .replace('sidecarImage: quay.io/org/tool:2.1', 'sidecarImage: registry.example.com/cloudgrid/org/tool:2.1'));
    assert.deepEqual(r.notMirrored, [{ path: 'other.image', ref: 'docker.io/someone/else:1' }]);
  });
  it('leaves global.imageRegistry when the images under it would need two values, and says so', () => {
    const text = 'global:\n  imageRegistry: ghcr.io/cloudgrid-dev\na:\n  image: { repository: cloudgrid-bff, tag: "1" }\n';
    const r = rewriteValues(text, [M('ghcr.io', 'cloudgrid-dev/cloudgrid-bff', 'x/cloudgrid-bff')], 'v.yaml');
    assert.equal(r.text, 'global:\n  imageRegistry: registry.example.com/x\na:\n  image: { repository: cloudgrid-bff, tag: "1" }\n');
  });
  it('replaces a digest pin only where export filtered the index to some platforms (the mirror holds the new one)', () => {
    const F = `sha256:${'f'.repeat(64)}`;
    const filtered: MirroredRepository = { ...M('ghcr.io', 'cloudgrid-dev/cloudgrid-bff', 'c/cloudgrid-bff'), digests: new Map([[D, F]]) };
    const text = `bff:\n  image:\n    registry: ghcr.io\n    repository: cloudgrid-dev/cloudgrid-bff\n    digest: "${D}"\nsidecarImage: ghcr.io/cloudgrid-dev/cloudgrid-bff@${D}\nother:\n  image: { registry: docker.io, repository: library/redis, digest: "${D}" }\n`;
    const r = rewriteValues(text, [filtered, M('docker.io', 'library/redis', 'c/library/redis')], 'v.yaml');
    assert.equal(r.text, `bff:\n  image:\n    registry: registry.example.com\n    repository: c/cloudgrid-bff\n    digest: "${F}"\nsidecarImage: registry.example.com/c/cloudgrid-bff@${F}\nother:\n  image: { registry: registry.example.com, repository: c/library/redis, digest: "${D}" }\n`);
  });
  it('reports bad YAML at its line (USAGE)', () => {
    assert.throws(() => rewriteValues('a: [\n', mirrored, 'v.yaml'), (e: Error & { code?: string; where?: string }) => e.code === 'USAGE' && /^v\.yaml:\d+:\d+$/.test(e.where ?? ''));
  });
});

describe('rewriteCompose', () => {
  const mirrored = [
    M('ghcr.io', 'sentari-dev/sentari/server', 'sentari/sentari-dev/sentari/server'),
    M('ghcr.io', 'sentari-dev/sentari/web', 'sentari/sentari-dev/sentari/web'),
    M('docker.io', 'timescale/timescaledb', 'sentari/timescale/timescaledb'),
    M('docker.io', 'library/redis', 'sentari/library/redis'),
  ];
  it('sets REGISTRY in .env and in the defaults, and replaces literal image lines', () => {
    const compose = [
      'services:',
      '  server:',
      '    image: ${REGISTRY:-ghcr.io/sentari-dev/sentari}/server:${VERSION:-1.0.0}',
      '  web:',
      '    image: "${REGISTRY:-ghcr.io/sentari-dev/sentari}/web:${VERSION:-1.0.0}"  # the UI',
      '  db:',
      '    image: timescale/timescaledb:2.14.2-pg16',
      '  redis:',
      '    image: redis:7.2-alpine',
      '',
    ].join('\n');
    const env = '# Sentari\nREGISTRY=ghcr.io/sentari-dev/sentari\nVERSION=1.0.0\n';
    const r = rewriteCompose(compose, env, mirrored, 'c.yml');
    assert.equal(r.text, compose.replaceAll('${REGISTRY:-ghcr.io/sentari-dev/sentari}', '${REGISTRY:-registry.example.com/sentari/sentari-dev/sentari}')
      .replace('image: timescale/timescaledb:2.14.2-pg16', 'image: registry.example.com/sentari/timescale/timescaledb:2.14.2-pg16')
      .replace('image: redis:7.2-alpine', 'image: registry.example.com/sentari/library/redis:7.2-alpine'));
    assert.equal(r.env, '# Sentari\nREGISTRY=registry.example.com/sentari/sentari-dev/sentari\nVERSION=1.0.0\n');
    assert.deepEqual(r.notMirrored, []);
  });
  it('maps a digest pin of a filtered index in variable and literal image lines', () => {
    const F = `sha256:${'f'.repeat(64)}`;
    const w: MirroredRepository = { ...M('ghcr.io', 'sentari-dev/sentari/worker', 'sentari/sentari-dev/sentari/worker'), digests: new Map([[D, F]]) };
    const compose = `services:\n  a:\n    image: \${REGISTRY:-ghcr.io/sentari-dev/sentari}/worker@${D}\n  b:\n    image: ghcr.io/sentari-dev/sentari/worker:\${V:-1}@${D}\n`;
    const r = rewriteCompose(compose, undefined, [w], 'c.yml');
    assert.equal(r.text, `services:\n  a:\n    image: \${REGISTRY:-registry.example.com/sentari/sentari-dev/sentari}/worker@${F}\n  b:\n    image: registry.example.com/sentari/sentari-dev/sentari/worker:\${V:-1}@${F}\n`);
  });
});
