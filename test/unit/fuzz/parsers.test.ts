/**
 * Issue 11, fuzzing the parsers at the edge (fast-check): references and targets, mirror lists
 * (arbitrary JSON documents, which are YAML too, so the schema checks run, not only the YAML
 * parser; alias bombs), OCI manifests and indexes (random JSON, good documents with fields
 * replaced by values of other types), airlock.json. Every input either parses or throws an
 * AirlockError with a bad-input or verification code: never another exception, never INTERNAL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAirlockManifest } from '../../../src/bundle/index.js';
import { AirlockError } from '../../../src/errors.js';
import { parseMirrorList } from '../../../src/mirror/index.js';
import { parseManifest, parsePlatform, parseDigest } from '../../../src/oci/index.js';
import { parseReference, parseTarget } from '../../../src/reference/index.js';
import { recordOutcome } from '../../../fixtures/harness/outcome.js';

/** Run a property and record it for docs/RELIABILITY.md. */
function prop<Ts>(scenario: string, p: fc.IProperty<Ts>, numRuns: number): void {
  fc.assert(p, { numRuns });
  recordOutcome({ group: 'fuzz', scenario, side: '-', outcome: 'correct', corrupt: false, runs: numRuns, detail: 'parsed or AirlockError (exit 2/3)' });
}

function typed(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AirlockError, `not an AirlockError: ${err instanceof Error ? err.stack : String(err)}`);
    assert.notEqual(err.code, 'INTERNAL', err.message);
    assert.ok(err.exitCode === 2 || err.exitCode === 3, `${err.code} maps to exit ${err.exitCode}`);
  }
}

const HEX64 = 'a'.repeat(64);
const REF_PIECES = fc.constantFrom(
  'a', 'b0', '/', ':', '@', 'sha256:', `sha256:${HEX64}`, '.', '-', '_', '__', 'localhost', ':5000', 'A', '..', '//', 'docker.io',
  'library/', 'oci://', 'docker://', '1.0', 'latest', ' ', '\t', '\n', '\u0000', 'é', '%2F', 'x'.repeat(130), ':'.repeat(3),
);
const referenceLike = fc.array(REF_PIECES, { maxLength: 14 }).map((xs) => xs.join(''));

describe('fuzz: references', () => {
  it('parseReference and parseTarget: parse or a typed error (structured pieces)', () => {
    prop('reference parser (structured pieces)', fc.property(referenceLike, (s) => {
      typed(() => parseReference(s));
      typed(() => parseTarget(s));
    }), 2000);
  });
  it('parseReference, parseDigest, parsePlatform: parse or a typed error (any string)', () => {
    prop('reference, digest and platform parsers (any string)', fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      typed(() => parseReference(s));
      typed(() => parseDigest(s));
      typed(() => parsePlatform(s));
    }), 1000);
  });
  it('a parsed reference keeps what it was given (digest and tag survive)', () => {
    fc.assert(fc.property(
      fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/),
      (repo, tag) => {
        const r = parseReference(`127.0.0.1:5000/${repo}:${tag}@sha256:${HEX64}`);
        assert.equal(r.tag, tag);
        assert.equal(r.digest, `sha256:${HEX64}`);
      },
    ), { numRuns: 300 });
  });
});

const GOOD_MIRROR = {
  version: 1,
  defaults: { platforms: ['linux/amd64'], referrers: true },
  registries: { 'r.local:5001': { tls: 'plain-http' } },
  images: ['docker.io/library/nginx:1.27', { ref: 'ghcr.io/o/a:1.0', platforms: ['linux/arm64'] }, { repository: 'quay.io/o/app', tags: { semver: '>=1.2.0 <2.0.0' } }],
  charts: [{ ref: 'oci://ghcr.io/o/charts/c', version: '1.4.2' }],
  files: [{ path: './x.json' }],
};

/** Replace the value at a random path of `doc` with `value`. */
function replaceAt(doc: unknown, path: readonly number[], value: unknown): unknown {
  if (path.length === 0 || typeof doc !== 'object' || doc === null) return value;
  const keys = Object.keys(doc);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(doc) ? ([...doc] as unknown as Record<string, unknown>) : { ...(doc as Record<string, unknown>) };
  copy[k] = replaceAt((doc as Record<string, unknown>)[k], path.slice(1), value);
  return copy;
}

describe('fuzz: mirror lists', () => {
  it('any JSON document (valid YAML) is a list or a typed error', () => {
    prop('mirror-list parser (any JSON/YAML document)', fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => typed(() => parseMirrorList(JSON.stringify(v), 'm.yaml'))), 500);
  });
  it('a good list with one value replaced by anything is a list or a typed error', () => {
    prop('mirror-list parser (good list, one value replaced)', fc.property(fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), (path, value) => {
      typed(() => parseMirrorList(JSON.stringify(replaceAt(GOOD_MIRROR, path, value)), 'm.yaml'));
    }), 1000);
  });
  it('an alias bomb (billion laughs) is refused with a typed error, quickly', () => {
    const lines = ['version: 1', 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    lines.push('images: *l');
    typed(() => parseMirrorList(lines.join('\n'), 'bomb.yaml'));
    assert.throws(() => parseMirrorList(lines.join('\n'), 'bomb.yaml'), AirlockError);
  });
});

const D = (n: number): { mediaType: string; digest: string; size: number } => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${n.toString(16).padStart(64, '0')}`, size: n });
const GOOD_MANIFEST = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { ...D(1), mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [D(2), D(3)], annotations: { a: 'b' } };
const GOOD_INDEX = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...D(4), mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: 'amd64' } }] };
const MEDIA_TYPES = fc.constantFrom(
  undefined, 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/json', 'text/plain',
);

describe('fuzz: manifests and indexes', () => {
  it('random bytes and random JSON parse or give a typed error', () => {
    prop('manifest and index parser (random bytes and JSON)', fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.jsonValue({ maxDepth: 4 }).map((v) => new TextEncoder().encode(JSON.stringify(v)))), MEDIA_TYPES, (bytes, mt) => {
      typed(() => parseManifest(bytes, mt, 'fuzz'));
    }), 1000);
  });
  it('good manifests and indexes with one value replaced parse or give a typed error', () => {
    prop('manifest and index parser (good documents, one value replaced)', fc.property(fc.boolean(), fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), MEDIA_TYPES, (index, path, value, mt) => {
      const doc = replaceAt(index ? GOOD_INDEX : GOOD_MANIFEST, path, value);
      typed(() => parseManifest(new TextEncoder().encode(JSON.stringify(doc)), mt, 'fuzz'));
    }), 1500);
  });
});

const GOOD_AIRLOCK = {
  version: 1, created: '2025-01-01T00:00:00Z', tool: { name: 'airlock', version: '0.1.0' }, bases: [],
  artifacts: [{ kind: 'image', source: 'example.com/app:1.0', repository: 'example.com/app', tag: '1.0', digest: `sha256:${'4'.padStart(64, '0')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 4 }],
  blobs: [{ ...D(4), mediaType: 'application/vnd.oci.image.manifest.v1+json', location: 'bundle' }, { ...D(2), location: 'bundle' }, { ...D(3), location: 'base', bases: [`sha256:${HEX64}`] }],
};

describe('fuzz: airlock.json', () => {
  it('a good airlock.json with one value replaced parses or gives a typed error', () => {
    typed(() => parseAirlockManifest(new TextEncoder().encode(JSON.stringify(GOOD_AIRLOCK))));
    prop('airlock.json parser (good document, one value replaced)', fc.property(fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), (path, value) => {
      typed(() => parseAirlockManifest(new TextEncoder().encode(JSON.stringify(replaceAt(GOOD_AIRLOCK, path, value)))));
    }), 1500);
  });
  it('random JSON parses or gives a typed error', () => {
    prop('airlock.json parser (random JSON)', fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => typed(() => parseAirlockManifest(new TextEncoder().encode(JSON.stringify(v))))), 500);
  });
});
