import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveLine, fitWidth } from '../../../src/cli/render/live.js';
import { wrapText } from '../../../src/cli/render/logger.js';
import { formatDuration } from '../../../src/cli/render/progress.js';
import { shortenHexRuns } from '../../../src/cli/render/bundle-text.js';

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
});
