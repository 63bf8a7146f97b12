import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AirlockManifest, BundleArtifact } from '../../../src/bundle/index.js';
import { assertPolicyAllows, evaluatePolicy, parsePolicy } from '../../../src/mirror/index.js';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_EMPTY, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, type Digest } from '../../../src/oci/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';

/** cosign's `.att` layers: a DSSE envelope (sigstore/cosign specs/ATTESTATION_SPEC.md). */
const MEDIA_TYPE_DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';
const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

/** A bundle front in memory: artifacts plus the manifests and configs they name. */
class Front {
  readonly metadata = new Map<Digest, Buffer>();
  readonly artifacts: BundleArtifact[] = [];
  put(b: Buffer): { digest: Digest; size: number } {
    const d = digestOf(b);
    this.metadata.set(d, b);
    return { digest: d, size: b.length };
  }
  image(platform: { os: string; architecture: string; variant?: string }): { mediaType: string; digest: Digest; size: number } {
    const config = this.put(json({ ...platform, rootfs: { type: 'layers', diff_ids: [] } }));
    return { mediaType: MEDIA_TYPE_OCI_MANIFEST, ...this.put(json({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: { mediaType: MEDIA_TYPE_OCI_CONFIG, ...config }, layers: [] })) };
  }
  add(a: Partial<BundleArtifact> & Pick<BundleArtifact, 'kind' | 'source' | 'digest' | 'mediaType'>): void {
    this.artifacts.push({ repository: a.source.replace(/[:@].*$/, ''), size: 1, ...a });
  }
  manifest(): AirlockManifest {
    return { version: 1, created: '2026-12-06T00:00:00.000Z', tool: { name: 'airlock', version: '0' }, bases: [], artifacts: this.artifacts, blobs: [] } as unknown as AirlockManifest;
  }
}

const policy = (rules: string): ReturnType<typeof parsePolicy> => parsePolicy(Buffer.from(`version: 1\nrules:\n${rules}`), '/p.yaml');

describe('evaluatePolicy', () => {
  it('finds provenance and an SBOM in BuildKit attestation manifests inside an index, and judges only the platform entries', async () => {
    const f = new Front();
    const amd = f.image({ os: 'linux', architecture: 'amd64' });
    const arm = f.image({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    const att = f.put(json({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: digestOf(Buffer.from('{}')), size: 2 },
      layers: [
        { mediaType: 'application/vnd.in-toto+json', digest: `sha256:${'1'.repeat(64)}`, size: 1, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } },
        { mediaType: 'application/vnd.in-toto+json', digest: `sha256:${'2'.repeat(64)}`, size: 1, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } },
      ],
    }));
    const index = f.put(json({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: MEDIA_TYPE_OCI_MANIFEST, ...att, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd.digest } },
      ],
    }));
    f.add({ kind: 'image', source: 'r.io/app:1', digest: index.digest, mediaType: MEDIA_TYPE_OCI_INDEX });
    const d = await evaluatePolicy(policy('  - kind: provenance\n  - kind: sbom\n  - kind: platforms\n    allow: [linux/amd64, linux/arm64]\n'), f.manifest(), f.metadata);
    assert.equal(d.allowed, true, JSON.stringify(d, null, 1));
    assert.match(d.artifacts[0]!.checks[0]!.detail, /BuildKit attestation.*slsa/);
    assert.match(d.artifacts[0]!.checks[2]!.detail, /linux\/amd64, linux\/arm64\/v8/);
    const strict = await evaluatePolicy(policy('  - kind: platforms\n    allow: [linux/amd64, linux/arm64/v7]\n'), f.manifest(), f.metadata);
    assert.equal(strict.allowed, false);
    assert.match(strict.artifacts[0]!.checks[0]!.detail, /linux\/arm64\/v8 outside/);
  });

  it('finds a cosign .att attestation by its layer annotation and an SBOM by cosign .sbom tag', async () => {
    const f = new Front();
    const img = f.image({ os: 'linux', architecture: 'amd64' });
    const att = f.put(json({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: `sha256:${'3'.repeat(64)}`, size: 1 },
      layers: [{ mediaType: MEDIA_TYPE_DSSE_ENVELOPE, digest: `sha256:${'4'.repeat(64)}`, size: 1, annotations: { predicateType: 'https://slsa.dev/provenance/v1' } }],
    }));
    f.add({ kind: 'image', source: 'r.io/app:1', digest: img.digest, mediaType: img.mediaType });
    f.add({ kind: 'referrer', source: 'r.io/app:att', digest: att.digest, mediaType: MEDIA_TYPE_OCI_MANIFEST, subject: img.digest, referrerTag: `sha256-${img.digest.slice(7)}.att` });
    f.add({ kind: 'referrer', source: 'r.io/app:sbom', digest: `sha256:${'5'.repeat(64)}` as Digest, mediaType: MEDIA_TYPE_OCI_MANIFEST, subject: img.digest, referrerTag: `sha256-${img.digest.slice(7)}.sbom` });
    // An image elsewhere has neither; it is judged only by rules whose sources match it.
    const other = f.image({ os: 'linux', architecture: 'amd64' });
    f.add({ kind: 'image', source: 'q.io/other:1', digest: other.digest, mediaType: other.mediaType });
    const d = await evaluatePolicy(policy('  - kind: provenance\n    sources: r.io/*\n  - kind: sbom\n    sources: r.io/*\n  - kind: registries\n    allow: [r.io]\n'), f.manifest(), f.metadata);
    assert.deepEqual(d.artifacts.map((a) => [a.source, a.allowed, a.checks.map((c) => c.kind)]), [
      ['r.io/app:1', true, ['provenance', 'sbom', 'registries']],
      ['q.io/other:1', false, ['registries']],
    ]);
    const err = assertThrowsCode(() => assertPolicyAllows(d), 'POLICY_VIOLATION');
    assert.match(err.message, /refuses 1 of 2/);
  });

  it('reads the registry of a repository through the reference module: a port is kept, no registry part means docker.io', async () => {
    const f = new Front();
    for (const [source, repository] of [['127.0.0.1:5000/app:1.0', '127.0.0.1:5000/app'], ['docker.io/library/nginx:1.27', 'docker.io/library/nginx'], ['library/redis:7', 'library/redis']] as const) {
      const img = f.image({ os: 'linux', architecture: 'amd64' });
      f.add({ kind: 'image', source, repository, digest: img.digest, mediaType: img.mediaType });
    }
    const d = await evaluatePolicy(policy('  - kind: registries\n    allow: [docker.io]\n'), f.manifest(), f.metadata);
    assert.deepEqual(d.artifacts.map((a) => [a.source, a.allowed, a.checks[0]!.detail.split(',')[0]]), [
      ['127.0.0.1:5000/app:1.0', false, 'from 127.0.0.1:5000'],
      ['docker.io/library/nginx:1.27', true, 'from docker.io'],
      ['library/redis:7', true, 'from docker.io'],
    ]);
  });

  it('does not trust a root carried in a bundle whose own signature did not verify', async () => {
    const f = new Front();
    const img = f.image({ os: 'linux', architecture: 'amd64' });
    f.add({
      kind: 'image', source: 'r.io/app:1', digest: img.digest, mediaType: img.mediaType,
      upstreamSignature: { verified: true, method: 'sigstore-bundle-keyless', signer: 'a', signatures: [], trustedRootJson: '{}', evidence: [] },
    });
    const d = await evaluatePolicy(policy('  - kind: signature\n    keyless: { identity: a, issuer: https://i }\n'), f.manifest(), f.metadata, { bundleVerified: false });
    assert.equal(d.allowed, false);
    assert.match(d.artifacts[0]!.checks[0]!.detail, /did not verify.*trustedRoot/);
  });

  it('refuses a signature rule for an image with no vendor signature record, and a key rule whose key file is not a key is bad input', async () => {
    const f = new Front();
    const img = f.image({ os: 'linux', architecture: 'amd64' });
    f.add({ kind: 'image', source: 'r.io/app:1', digest: img.digest, mediaType: img.mediaType });
    const d = await evaluatePolicy(policy('  - kind: signature\n    keyless: { identity: a, issuer: https://i }\n'), f.manifest(), f.metadata);
    assert.equal(d.allowed, false);
    assert.match(d.artifacts[0]!.checks[0]!.detail, /no vendor signature/);
    await assert.rejects(evaluatePolicy(policy('  - kind: signature\n    key: /nonexistent.pub\n'), f.manifest(), f.metadata), (e: { code?: string }) => e.code === 'POLICY_INVALID');
  });
});
