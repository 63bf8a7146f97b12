import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AirlockError, MultiError } from '../../../src/errors.js';
import { parseMirrorList } from '../../../src/mirror/index.js';

const VALID = readFileSync(new URL('../../../../fixtures/mirror/valid.yaml', import.meta.url), 'utf8');
const F = 'p.yaml';

/** parseMirrorList either returns or throws MIRROR_INVALID whose problems all point into the text. */
function check(text: string): void {
  try {
    parseMirrorList(text, F);
  } catch (err) {
    assert.ok(err instanceof AirlockError, `not an AirlockError: ${String(err)}`);
    assert.equal(err.code, 'MIRROR_INVALID');
    assert.ok(err instanceof MultiError && err.problems.length > 0);
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const p of err.problems) {
      assert.ok(p instanceof AirlockError);
      const m = /^p\.yaml:(\d+):(\d+)$/.exec(p.where ?? '');
      assert.ok(m, `problem without file:line:col: ${p.where} ${p.message}`);
      assert.ok(Number(m[1]) >= 1 && Number(m[1]) <= lines + 1, `line out of range: ${p.where}`);
      assert.ok(Number(m[2]) >= 1);
      assert.ok(p.hint);
    }
  }
}

const YAMLISH = fc.constantFrom(':', '-', ' ', '\n', '\t', '[', ']', '{', '}', '#', '&a', '*a', '!', '|', '>', '"', "'", '?', ',', '~', '@', '%', '0', 'x', '\uFEFF');

type Mutation =
  | { op: 'delete'; at: number; len: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'duplicateLine'; line: number }
  | { op: 'swapLines'; a: number; b: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(YAMLISH, fc.string({ maxLength: 8 })) }),
  fc.record({ op: fc.constant('duplicateLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
);

function mutate(text: string, ms: readonly Mutation[]): string {
  let t = text;
  for (const m of ms) {
    const lines = t.split('\n');
    switch (m.op) {
      case 'delete': { const at = m.at % (t.length + 1); t = t.slice(0, at) + t.slice(at + m.len); break; }
      case 'insert': { const at = m.at % (t.length + 1); t = t.slice(0, at) + m.text + t.slice(at); break; }
      case 'duplicateLine': { const i = m.line % lines.length; lines.splice(i, 0, lines[i]!); t = lines.join('\n'); break; }
      case 'swapLines': {
        const a = m.a % lines.length; const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!]; t = lines.join('\n'); break;
      }
    }
  }
  return t;
}

describe('parseMirrorList (properties)', () => {
  it('throws nothing but AirlockError on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), check), { numRuns: 300 });
  });

  it('throws nothing but AirlockError on YAML-ish noise', () => {
    fc.assert(fc.property(fc.array(YAMLISH, { maxLength: 60 }).map((xs) => xs.join('')), check), { numRuns: 300 });
  });

  it('throws nothing but AirlockError on mutated valid lists', () => {
    check(VALID);
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => check(mutate(VALID, ms))), { numRuns: 400 });
  });
});
