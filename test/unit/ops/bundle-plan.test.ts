import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlannedRoot } from '../../../src/copy/index.js';
import type { Digest } from '../../../src/oci/index.js';
import { mapArtifacts } from '../../../src/ops/bundle-plan.js';
import { parseTarget } from '../../../src/reference/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const root = (kind: PlannedRoot['kind'], registry: string, repositoryPath: string): PlannedRoot => ({
  kind, registry, repositoryPath, repository: registry ? `${registry}/${repositoryPath}` : '',
  desc: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}` as Digest, size: 1 },
});

describe('mapArtifacts', () => {
  it('maps each source repository once, by --to and --layout, and leaves files out', () => {
    const roots = [
      root('image', 'docker.io', 'library/nginx'), root('referrer', 'docker.io', 'library/nginx'),
      root('chart', '127.0.0.1:5000', 'charts/app'), root('file', '', ''),
    ];
    assert.deepEqual([...mapArtifacts(roots, parseTarget('registry.site/mirror'), 'flat')], [
      ['docker.io/library/nginx', 'mirror/library/nginx'], ['127.0.0.1:5000/charts/app', 'mirror/charts/app'],
    ]);
    assert.deepEqual([...mapArtifacts(roots, parseTarget('registry.site'), 'scoped')], [
      ['docker.io/library/nginx', 'docker.io/library/nginx'], ['127.0.0.1:5000/charts/app', '127.0.0.1_5000/charts/app'],
    ]);
  });

  it('refuses two sources on one target repository (MAPPING_CONFLICT)', () => {
    const roots = [root('image', 'docker.io', 'team/app'), root('image', 'ghcr.io', 'team/app')];
    const err = assertThrowsCode(() => mapArtifacts(roots, parseTarget('registry.site'), 'flat'), 'MAPPING_CONFLICT');
    assert.match(err.hint ?? '', /--layout scoped/);
    assert.equal(mapArtifacts(roots, parseTarget('registry.site'), 'scoped').size, 2);
  });
});
