import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { applyMatrix, generatorRow, gfInvert, gfMul, recoveryMatrix } from '../../../src/util/index.js';

function encode(k: number, m: number, data: Uint8Array[], len: number): Uint8Array[] {
  const rows = Array.from({ length: m }, (_, j) => generatorRow(k, m, k + j));
  const out = rows.map(() => new Uint8Array(len));
  applyMatrix(rows, data, out, len);
  return out;
}

function* subsets(n: number, size: number, start = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === size) {
    yield [...acc];
    return;
  }
  for (let i = start; i < n; i++) yield* subsets(n, size, i + 1, [...acc, i]);
}

describe('Reed–Solomon over GF(256)', () => {
  it('is a field: every non-zero element has an inverse', () => {
    for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInvert([Uint8Array.of(a)])[0]![0]!), 1);
  });

  it('m = 1 is XOR', () => {
    const data = [randomBytes(1031), randomBytes(1031), randomBytes(1031)].map((b) => new Uint8Array(b));
    const [p] = encode(3, 1, data, 1031);
    for (let i = 0; i < 1031; i++) assert.equal(p![i], data[0]![i]! ^ data[1]![i]! ^ data[2]![i]!);
  });

  for (const [k, m] of [[1, 1], [3, 1], [4, 2], [5, 3], [8, 4]] as const) {
    it(`k=${k}, m=${m}: every pattern of up to ${m} erasures is rebuilt exactly`, () => {
      const len = 257;
      const data = Array.from({ length: k }, () => new Uint8Array(randomBytes(len)));
      const shards = [...data, ...encode(k, m, data, len)];
      for (let lost = 1; lost <= m; lost++) {
        for (const gone of subsets(k + m, lost)) {
          const available = [...Array(k + m).keys()].filter((i) => !gone.includes(i)).slice(0, k);
          const rows = recoveryMatrix(k, m, available, gone);
          const out = gone.map(() => new Uint8Array(len));
          applyMatrix(rows, available.map((i) => shards[i]!), out, len);
          gone.forEach((g, w) => assert.deepEqual(out[w], shards[g], `k=${k} m=${m} lost ${gone.join(',')}`));
        }
      }
    });
  }
});
