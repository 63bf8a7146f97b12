import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileAtomicIfChanged } from '../../../src/util/index.js';

describe('util: writeFileAtomicIfChanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-fs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a new or changed file, and leaves one that already holds the bytes', async () => {
    const p = join(dir, 'a.txt');
    assert.equal(await writeFileAtomicIfChanged(p, 'one\n'), true);
    const first = statSync(p).ino;
    assert.equal(await writeFileAtomicIfChanged(p, 'one\n'), false);
    assert.equal(statSync(p).ino, first, 'not replaced');
    assert.equal(await writeFileAtomicIfChanged(p, Buffer.from('one\n')), false);
    assert.equal(await writeFileAtomicIfChanged(p, 'one!\n'), true);
    assert.notEqual(statSync(p).ino, first, 'replaced by rename');
    assert.equal(readFileSync(p, 'utf8'), 'one!\n');
    assert.equal(await writeFileAtomicIfChanged(p, 'two\n'), true, 'same size, other bytes');
    assert.equal(readFileSync(p, 'utf8'), 'two\n');
  });

  it('rewrites a file with wider permissions than asked, and replaces a link with a file', async () => {
    const p = join(dir, 'b.txt');
    writeFileSync(p, 'x');
    chmodSync(p, 0o666);
    assert.equal(await writeFileAtomicIfChanged(p, 'x', 0o644), true);
    assert.equal(statSync(p).mode & 0o777 & ~0o644, 0);
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'y');
    const link = join(dir, 'link.txt');
    symlinkSync(target, link);
    assert.equal(await writeFileAtomicIfChanged(link, 'y'), true);
    assert.equal(lstatSync(link).isFile(), true);
    assert.equal(readFileSync(target, 'utf8'), 'y');
  });
});
