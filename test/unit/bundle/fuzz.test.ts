import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createZstdDecompressStream, readTarEntries } from '../../../src/archive/index.js';
import { AirlockError } from '../../../src/errors.js';
import { exportBundle, stageLayout, tempDir } from './fixture.js';
import { consumeBundle } from '../../helpers/consume-bundle.js';

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 1100 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 1100 }) }),
);

function mutate(data: Buffer, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(data);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 'flip': if (b.length > 0) b[at]! ^= m.mask; break;
      case 'truncate': b = b.subarray(0, at); break;
      case 'splice': b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]); break;
      case 'delete': b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]); break;
    }
  }
  return b;
}

async function onlyAirlockErrors(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AirlockError, `not an AirlockError: ${err instanceof Error ? err.stack : String(err)}`);
  }
}

describe('mutated bundles', () => {
  for (const form of ['tar', 'tar.zst'] as const) {
    it(`openBundle on a randomly damaged ${form} only ever throws AirlockError (property)`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[2000, 700], [1500]] });
      const good = join(dir, `good.${form}`);
      await exportBundle(staged, good, form);
      const data = await readFile(good);
      const bad = join(dir, `bad.${form}`);
      await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        await writeFile(bad, mutate(data, ms));
        await onlyAirlockErrors(consumeBundle(bad));
      }), { numRuns: 150 });
    });
  }

  it('readTarEntries over random bytes and damaged tars only ever throws AirlockError (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.boolean(), async (bytes, zstd) => {
      let input: Readable = Readable.from([Buffer.from(bytes)]);
      if (zstd) input = input.pipe(createZstdDecompressStream());
      await onlyAirlockErrors((async () => {
        for await (const e of readTarEntries(input)) for await (const _c of e.body) { /* drain */ }
      })());
    }), { numRuns: 300 });
  });
});
