import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planVolumes, usableTarBytes, type VolumeBlob, type VolumePlan } from '../../../src/bundle/index.js';
import type { Digest } from '../../../src/oci/index.js';
import { assertThrowsCode } from '../../helpers/assert.js';
import type { AirlockError } from '../../../src/errors.js';

const digest = (i: number): Digest => `sha256:${i.toString(16).padStart(64, '0')}` as Digest;

describe('planVolumes', () => {
  it('packs every layer once, cuts what does not fit, and keeps every volume under the limit (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 300_000 }), { minLength: 0, maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 0, maxLength: 6 }),
      fc.integer({ min: 40_000, max: 400_000 }),
      fc.boolean(),
      (layerSizes, metaSizes, maxSize, compressed) => {
        const blobs: VolumeBlob[] = [
          ...metaSizes.map((size, i) => ({ digest: digest(1_000_000 + i), size, mediaType: 'm', metadata: true })),
          ...layerSizes.map((size, i) => ({ digest: digest(i), size, mediaType: 'l', metadata: false })),
        ];
        let plan: VolumePlan;
        try {
          plan = planVolumes(blobs, { maxSize, compressed, frontBytes: 5000 });
        } catch (err) {
          // A front close to the volume size leaves no room: refused as bad input, never packed wrong.
          assert.equal((err as AirlockError).code, 'USAGE');
          return;
        }
        assert.deepEqual(planVolumes(blobs, { maxSize, compressed, frontBytes: 5000 }), plan, 'deterministic');
        const usable = usableTarBytes(maxSize, compressed);
        for (const v of plan.volumes) assert.ok(v.bytes <= usable, `volume ${v.number}: ${v.bytes} > ${usable}`);
        const whole = plan.volumes.flatMap((v) => v.blobs);
        assert.equal(new Set(whole).size, whole.length);
        for (const [i, size] of layerSizes.entries()) {
          const d = digest(i);
          const cut = plan.cut.find((c) => c.digest === d);
          assert.equal(whole.includes(d) ? 1 : 0, cut ? 0 : 1, 'whole xor cut');
          if (cut) {
            let next = 0;
            for (const p of cut.pieces) {
              assert.equal(p.offset, next);
              assert.ok(p.size > 0);
              next += p.size;
              assert.ok(plan.volumes[p.volume - 1]!.pieces.some((q) => q.digest === d && q.offset === p.offset));
            }
            assert.equal(next, size);
          }
        }
      },
    ), { numRuns: 200 });
  });

  it('cuts a large blob across full volumes and packs the rest first-fit', () => {
    const blobs: VolumeBlob[] = [
      { digest: digest(100), size: 700, mediaType: 'm', metadata: true },
      { digest: digest(1), size: 250_000, mediaType: 'l', metadata: false },
      { digest: digest(2), size: 60_000, mediaType: 'l', metadata: false },
      { digest: digest(3), size: 30_000, mediaType: 'l', metadata: false },
    ];
    const plan = planVolumes(blobs, { maxSize: 100_000, compressed: true, frontBytes: 4000 });
    assert.deepEqual(plan.metadata, [digest(100)]);
    assert.equal(plan.cut.length, 1);
    assert.equal(plan.cut[0]!.digest, digest(1));
    assert.ok(plan.cut[0]!.pieces.length >= 3);
    assert.ok(plan.volumes.length >= 4);
  });

  it('fails clearly when the front alone does not fit', () => {
    assertThrowsCode(() => planVolumes([{ digest: digest(1), size: 10, mediaType: 'l', metadata: false }], { maxSize: 4000, compressed: false, frontBytes: 3000 }), 'USAGE');
  });
});
