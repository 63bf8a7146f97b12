import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveLine, fitWidth } from '../../../src/cli/render/live.js';
import { wrapText } from '../../../src/cli/render/logger.js';
import { formatDuration } from '../../../src/cli/render/progress.js';
import { planLines, shortenHexRuns } from '../../../src/cli/render/bundle-text.js';
import type { PlanDescription } from '../../../src/copy/index.js';
import type { Digest } from '../../../src/oci/index.js';

function fakeOut(columns?: number): { out: { write(s: string): boolean; columns?: number }; text: () => string } {
  let buf = '';
  return { out: { write: (s: string) => ((buf += s), true), ...(columns ? { columns } : {}) }, text: () => buf };
}

describe('cli render', () => {
  it('LiveLine redraws in place, prints log lines above itself, and leaves nothing when cleared', () => {
    const f = fakeOut(120);
    const line = new LiveLine(f.out);
    line.draw('a'.repeat(200));
    assert.equal(f.text(), `\r${'a'.repeat(78)}…\x1b[K`, 'cut to 79 columns even on a wide terminal');
    line.draw('progress 1');
    line.log('an artifact');
    line.clear();
    assert.ok(f.text().endsWith('\r\x1b[Kan artifact\nprogress 1\x1b[K\r\x1b[K'));
    assert.equal(line.active, false);
  });

  it('wraps long lines at words, hanging under the label', () => {
    const text = wrapText(`warning: ${'word '.repeat(30).trim()}\n`, 40);
    for (const l of text.trimEnd().split('\n')) assert.ok(l.length <= 40, l);
    assert.ok(text.split('\n')[1]!.startsWith(' '.repeat(9)));
    assert.equal(wrapText('short\n', 40), 'short\n');
    assert.equal(wrapText(`x ${'y'.repeat(50)}`, 40), `x\n  ${'y'.repeat(50)}`);
  });

  it('fits, shortens and formats', () => {
    assert.equal(fitWidth('abc', 3), 'abc');
    assert.equal(fitWidth('abcd', 3), 'ab…');
    assert.equal(shortenHexRuns(`x:sha256-${'a'.repeat(64)}.sig`), `x:sha256-${'a'.repeat(12)}….sig`);
    assert.equal(formatDuration(5), '5s');
    assert.equal(formatDuration(125), '2m05s');
    assert.equal(formatDuration(Infinity), '?');
  });

  it('--dry-run text: one line per root (source → target, digest), at most 50, then blobs and bytes by source', () => {
    const d = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
    const roots = Array.from({ length: 52 }, (_, i) => ({
      kind: 'image' as const, source: `r.example/app:${i}@${d(i)}`, target: 'mirror/app', digest: d(i), tag: String(i),
    }));
    const plan: PlanDescription = {
      roots: [...roots.slice(0, 1), { kind: 'file', source: `files/notes.txt@${d(99)}`, digest: d(99) }, ...roots.slice(1)],
      blobs: [],
      totals: { roots: 53, blobs: 3, bytes: 3 << 20, byOrigin: { 'r.example/app': { blobs: 2, bytes: 2 << 20 }, bundle: { blobs: 1, bytes: 1 << 20 } } },
    };
    const lines = planLines(plan);
    assert.match(lines[0]!, /^ {2}image +0{12} +r\.example\/app:0 → mirror\/app:0$/);
    assert.match(lines[1]!, /files\/notes\.txt → \(carried, not copied\)$/);
    assert.equal(lines.filter((l) => l.includes(' → ')).length, 50);
    assert.ok(lines.includes('  … and 3 more root(s) (--json lists them all)'));
    assert.ok(lines.some((l) => /^blobs +3 \(3(\.\d+)? MiB\) under 53 root\(s\)$/.test(l)), lines.join('\n'));
    const from = lines.filter((l) => l.includes(' from '));
    assert.equal(from.length, 2);
    assert.match(from[0]!, /2 \(2(\.\d+)? MiB\) from r\.example\/app$/, 'largest first');
  });
});
