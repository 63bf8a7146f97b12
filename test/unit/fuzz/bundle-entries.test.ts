/**
 * Issue 11, fuzzing the bundle reader with entry-level mutations (the byte-level ones are in
 * test/unit/bundle/fuzz.test.ts): entries dropped, duplicated, swapped, renamed (`..`, absolute,
 * another blob's name), retyped (links, devices, directories), their bytes flipped or cut, their
 * header sizes lying. Whatever the mutation, reading the bundle the way import does either
 * succeeds with every byte verified or throws an AirlockError that is not INTERNAL.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AirlockError } from '../../../src/errors.js';
import { readTar, writeTar, zstdCompress, type TarItem } from '../../../fixtures/harness/hostile.js';
import { recordOutcome } from '../../../fixtures/harness/outcome.js';
import { exportBundle, stageLayout, tempDir } from '../bundle/fixture.js';
import { consumeBundle } from '../../helpers/consume-bundle.js';

type Mutation =
  | { kind: 'drop'; i: number }
  | { kind: 'duplicate'; i: number; flip: boolean }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'rename'; i: number; to: number }
  | { kind: 'retype'; i: number; type: string }
  | { kind: 'flip'; i: number; at: number }
  | { kind: 'cut'; i: number; keep: number }
  | { kind: 'lie'; i: number; delta: number };

const NAMES = ['../x', '/etc/x', 'blobs/sha256/../../x', 'blobs/sha256/', 'blobs/sha256/zz', 'airlock.json', 'index.json', './blobs/sha256/a', 'blobs//sha256/b', ''];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), i: fc.nat(), flip: fc.boolean() }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), i: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), i: fc.nat(), type: fc.constantFrom('1', '2', '3', '4', '5', '6', '7', 'K', 'L', 'Z') }),
  fc.record({ kind: fc.constant('flip' as const), i: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), i: fc.nat(), keep: fc.nat() }),
  fc.record({ kind: fc.constant('lie' as const), i: fc.nat(), delta: fc.integer({ min: -600, max: 600 }) }),
);

function apply(items: readonly TarItem[], ms: readonly Mutation[]): TarItem[] {
  let out = [...items];
  for (const m of ms) {
    if (out.length === 0) break;
    const i = m.i % out.length;
    const e = out[i]!;
    switch (m.kind) {
      case 'drop': out.splice(i, 1); break;
      case 'duplicate': {
        const data = Buffer.from(e.data);
        if (m.flip && data.length > 0) data[0] = data[0]! ^ 1;
        out.splice(i + 1, 0, { ...e, data });
        break;
      }
      case 'swap': {
        const j = m.j % out.length;
        [out[i], out[j]] = [out[j]!, e];
        break;
      }
      case 'rename': {
        const to = m.to % (NAMES.length + out.length);
        out[i] = { ...e, name: to < NAMES.length ? NAMES[to]! : out[to - NAMES.length]!.name };
        break;
      }
      case 'retype': out[i] = { ...e, type: m.type, linkname: '/etc/passwd' }; break;
      case 'flip': {
        const data = Buffer.from(e.data);
        if (data.length > 0) data[m.at % data.length] = data[m.at % data.length]! ^ 0x20;
        out[i] = { ...e, data };
        break;
      }
      case 'cut': out[i] = { ...e, data: e.data.subarray(0, m.keep % (e.data.length + 1)) }; break;
      case 'lie': out[i] = { ...e, declaredSize: Math.max(0, e.data.length + m.delta) }; break;
    }
  }
  out = out.filter(Boolean);
  return out;
}

describe('fuzz: bundle reader on entry-level mutations', () => {
  for (const form of ['tar', 'tar.zst'] as const) {
    it(`${form}: a typed error or a fully verified read, never anything else (property)`, async (t) => {
      const dir = await tempDir(t);
      const staged = await stageLayout(join(dir, 'stage'), { images: [[1200, 600], [900]] });
      const good = join(dir, 'good.tar');
      await exportBundle(staged, good, 'tar');
      const items = readTar(await readFile(good));
      assert.ok(items.length > 6);
      const bad = join(dir, `bad.${form}`);
      let typedErrors = 0;
      const numRuns = form === 'tar' ? 250 : 120;
      await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const tar = writeTar(apply(items, ms));
        await writeFile(bad, form === 'tar' ? tar : await zstdCompress(tar));
        try {
          await consumeBundle(bad);
        } catch (err) {
          assert.ok(err instanceof AirlockError, `not an AirlockError for ${JSON.stringify(ms)}: ${err instanceof Error ? err.stack : String(err)}`);
          assert.notEqual(err.code, 'INTERNAL', `${JSON.stringify(ms)}: ${err.message}`);
          typedErrors++;
        }
      }), { numRuns });
      assert.ok(typedErrors > 0);
      recordOutcome({ group: 'fuzz', scenario: 'bundle reader on entry-level mutations', side: form, outcome: 'correct', corrupt: false, runs: numRuns, detail: `${typedErrors} typed errors, the rest read and verified whole` });
    });
  }
});
