import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiError } from '../../../src/errors.js';
import { formatReference } from '../../../src/reference/index.js';
import { mergeMirrorLists, parseMirrorList, type MirrorList } from '../../../src/mirror/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

const D = `sha256:${'d'.repeat(64)}`;
const list = (file: string, body: string): MirrorList => parseMirrorList(`version: 1\n${body}`, file);
const refs = (l: MirrorList): string[] => l.images.map((e) => (e.kind === 'ref' ? formatReference(e.ref) : e.kind === 'repository' ? `${e.repository.registry}/${e.repository.repository}` : e.kind));

describe('mergeMirrorLists', () => {
  it('collapses the spellings of one image across files and keeps the first place', () => {
    const a = list('/a.yaml', 'images:\n  - docker.io/library/nginx:1.27\n');
    const b = list('/b.yaml', 'images:\n  - nginx:1.27\n  - index.docker.io/library/nginx:1.27\n  - redis:7\n');
    const m = mergeMirrorLists([a, b]);
    assert.deepEqual(refs(m), ['docker.io/library/nginx:1.27', 'docker.io/library/redis:7']);
    assert.equal(m.images[0]?.where, '/a.yaml:3:5');
    assert.deepEqual(m.sources, ['/a.yaml', '/b.yaml']);
  });

  it('keeps tag+digest, digest-only and tag-only as different entries', () => {
    const a = list('/a.yaml', `images:\n  - a.io/x:1@${D}\n  - a.io/x@${D}\n  - a.io/x:1\n`);
    const b = list('/b.yaml', `images:\n  - a.io/x:1@${D}\n`);
    assert.deepEqual(refs(mergeMirrorLists([a, b])), [`a.io/x:1@${D}`, `a.io/x@${D}`, 'a.io/x:1']);
  });

  it('applies each file\'s defaults to its own entries, then unions platforms and ors referrers', () => {
    const a = list('/a.yaml', 'defaults:\n  platforms: [linux/amd64]\n  referrers: false\nimages:\n  - a.io/x:1\n  - a.io/y:1\n');
    const b = list('/b.yaml', 'defaults:\n  platforms: [linux/arm64, linux/amd64]\nimages:\n  - a.io/x:1\n  - a.io/z:1\n');
    const c = list('/c.yaml', 'images:\n  - a.io/y:1\n');
    const m = mergeMirrorLists([a, b, c]);
    const byRef = new Map(m.images.map((e) => [e.kind === 'ref' ? formatReference(e.ref) : '', e]));
    assert.deepEqual(byRef.get('a.io/x:1')?.platforms?.map((p) => p.architecture), ['amd64', 'arm64']);
    assert.equal(byRef.get('a.io/x:1')?.referrers, true);
    assert.equal(byRef.get('a.io/y:1')?.platforms, undefined, 'c.yaml wants every platform of y');
    assert.equal(byRef.get('a.io/z:1')?.referrers, true);
    assert.deepEqual(m.defaults, { referrers: true });
  });

  it('collapses repository entries with the same selector (tag lists in any order)', () => {
    const a = list('/a.yaml', 'images:\n  - repository: a.io/x\n    tags: [v2, v1]\n  - repository: a.io/x\n    tags: { semver: "^1" }\n');
    const b = list('/b.yaml', 'images:\n  - repository: a.io/x\n    tags: [v1, v2, v1]\n');
    assert.equal(mergeMirrorLists([a, b]).images.length, 2);
  });

  it('collapses charts and files that are the same', () => {
    const a = list('/a.yaml', `charts:\n  - ref: oci://a.io/c/x\n    version: 1.0.0\nfiles:\n  - url: https://e.com/f.txt\n    sha256: ${'a'.repeat(64)}\n`);
    const b = list('/b.yaml', `charts:\n  - ref: oci://a.io/c/x\n    version: 1.0.0\n    includeImages: true\n  - ref: oci://a.io/c/x\n    version: 1.1.0\nfiles:\n  - url: https://e.com/f.txt\n    sha256: ${'A'.repeat(64)}\n`);
    const m = mergeMirrorLists([a, b]);
    assert.equal(m.charts.length, 2);
    assert.equal(m.charts[0]?.includeImages, true);
    assert.equal(m.files.length, 1);
  });

  it('merges registry settings field by field', () => {
    const a = list('/a.yaml', 'registries:\n  ghcr.io: { tls: skip-verify }\n');
    const b = list('/b.yaml', 'registries:\n  GHCR.io: { authfile: /auth.json, tls: skip-verify }\n  quay.io:\n');
    const m = mergeMirrorLists([a, b]);
    assert.deepEqual(m.registries.get('ghcr.io'), { tls: 'skip-verify', authfile: '/auth.json', where: '/a.yaml:3:3' });
    assert.ok(m.registries.has('quay.io'));
  });

  it('reports conflicting settings naming both places', () => {
    const a = list('/a.yaml', `registries:\n  ghcr.io: { tls: verify }\nimages:\n  - ref: a.io/x:1\n    verify: { key: /k1.pub }\nfiles:\n  - path: /x/notes.txt\n`);
    const b = list('/b.yaml', `registries:\n  ghcr.io: { tls: plain-http }\nimages:\n  - ref: a.io/x:1\n    verify: { key: /k2.pub }\nfiles:\n  - path: /y/notes.txt\n`);
    const err = assertThrowsCode(() => mergeMirrorLists([a, b]), 'MIRROR_INVALID');
    assert.ok(err instanceof MultiError);
    assert.deepEqual(err.problems.map((p) => p.where), ['/b.yaml:3:3', '/b.yaml:5:5', '/b.yaml:8:5']);
    for (const [i, other] of ['/a.yaml:3:3', '/a.yaml:5:5', '/a.yaml:8:5'].entries()) {
      assert.ok(err.problems[i]?.message.includes(other), `problem ${i} names ${other}`);
    }
  });

  it('returns a single list as it is', () => {
    const a = list('/a.yaml', 'images: [nginx]\n');
    assert.equal(mergeMirrorLists([a]), a);
  });
});
