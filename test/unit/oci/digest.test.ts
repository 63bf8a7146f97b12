import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { readVerified, verifyStream } from '../../../src/content/index.js';
import { DigestMismatchError } from '../../../src/errors.js';
import { digestOf, parseDigest, parseManifest, parsePlatform, platformMatches } from '../../../src/oci/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';

describe('parseDigest', () => {
  it('accepts sha256 digests', () => {
    const d = 'sha256:' + 'ab'.repeat(32);
    assert.equal(parseDigest(d), d);
  });
  for (const bad of ['', 'sha256:', 'sha256:' + 'A'.repeat(64), 'sha256:' + 'a'.repeat(63), 'sha512:' + 'a'.repeat(128), 'a'.repeat(64)]) {
    it(`rejects ${JSON.stringify(bad.slice(0, 20))}`, () => void assertThrowsCode(() => parseDigest(bad), 'DIGEST_INVALID'));
  }
});

describe('verifyStream', () => {
  const data = Buffer.from('hello world');
  const desc = { digest: digestOf(data), size: data.length };
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

  it('passes matching bytes', async () => {
    await pipeline(Readable.from([data]), verifyStream(desc), sink());
  });
  it('rejects a flipped byte with DIGEST_MISMATCH and reports what it read', async () => {
    const bad = Buffer.from(data);
    bad[3] = (bad[3] ?? 0) ^ 1;
    const err = await assertRejectsCode(pipeline(Readable.from([bad]), verifyStream(desc), sink()), 'DIGEST_MISMATCH');
    assert.ok(err instanceof DigestMismatchError);
    assert.equal(err.bytesRead, data.length);
  });
  it('rejects extra bytes as soon as they arrive', async () => {
    await assertRejectsCode(pipeline(Readable.from([data, Buffer.from('x')]), verifyStream(desc), sink()), 'SIZE_MISMATCH');
  });
  it('rejects a short stream', async () => {
    await assertRejectsCode(pipeline(Readable.from([data.subarray(0, 4)]), verifyStream(desc), sink()), 'SIZE_MISMATCH');
  });
  it('readVerified refuses a descriptor larger than the cap', async () => {
    await assertRejectsCode(readVerified(Readable.from([data]), desc, 4), 'SIZE_MISMATCH');
  });
});

describe('parseManifest', () => {
  const d = 'sha256:' + 'c'.repeat(64);
  it('parses an OCI image manifest and keeps subject and artifactType', () => {
    const raw = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: d, size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: d, size: 10 }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 100 },
    }));
    const m = parseManifest(raw, undefined);
    assert.equal(m.kind, 'manifest');
    assert.equal(m.subject?.digest, d);
    assert.equal(m.artifactType, 'application/spdx+json');
  });
  it('rejects schema 1 with a hint', () => {
    const e = assertThrowsCode(() => parseManifest(Buffer.from('{"schemaVersion":1,"name":"x"}'), undefined), 'MANIFEST_INVALID');
    assert.ok(e.hint);
  });
  for (const bad of ['', '[]', 'null', '{"schemaVersion":2}', '{"schemaVersion":2,"manifests":[{"digest":"x"}]}', '{"schemaVersion":2,"config":{},"layers":[]}']) {
    it(`rejects ${JSON.stringify(bad)}`, () => void assertThrowsCode(() => parseManifest(Buffer.from(bad), undefined), 'MANIFEST_INVALID'));
  }
});

describe('platforms', () => {
  it('parses and matches variants as containerd does', () => {
    assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' }));
    assert.ok(!platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' }));
    assert.ok(!platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' }));
  });
  for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'linux/am d64']) {
    it(`rejects platform ${JSON.stringify(bad)}`, () => void assertThrowsCode(() => parsePlatform(bad), 'USAGE'));
  }
});
