import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { commandKey, readCache, writeCache } from '../../../src/cli/launch.js';

describe('cli launch: the code cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-launch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps one cache per command, none for help, version flags, --no-cache or anything unexpected', () => {
    assert.equal(commandKey(['bundle', 'import', 'x.tar.zst', '--to', 'r']), 'bundle-import');
    assert.equal(commandKey(['version']), 'version');
    assert.equal(commandKey(['completion', 'bash']), 'completion');
    assert.equal(commandKey(['bundle', 'import', '--help']), undefined);
    assert.equal(commandKey(['bundle', 'export', '-f', 'm.yaml', '-o', 'b.tar.zst', '--no-cache']), undefined);
    assert.equal(commandKey(['--version']), undefined);
    assert.equal(commandKey(['bundle']), undefined);
    assert.equal(commandKey(['bundle', '--json']), undefined);
    assert.equal(commandKey(['--json', 'version']), undefined);
    assert.equal(commandKey(['../x']), undefined);
    assert.equal(commandKey([]), undefined);
  });

  it('reads back what it wrote, and nothing that is damaged, foreign or writable by others', () => {
    const path = join(dir, 'b1-v20-x64-version.v8');
    const payload = Buffer.from('some cached data '.repeat(100));
    writeCache(path, payload, 'b1-');
    assert.deepEqual(readCache(path), payload);
    assert.equal((readdirSync(dir).filter((n) => n.endsWith('.tmp'))).length, 0, 'no temporary file left');

    const good = readFileSync(path);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    writeFileSync(path, flipped, { mode: 0o600 });
    assert.equal(readCache(path), undefined, 'a changed payload');
    writeFileSync(path, good.subarray(0, good.length - 10), { mode: 0o600 });
    assert.equal(readCache(path), undefined, 'a truncated file');
    const otherMagic = Buffer.from(good);
    otherMagic[0]! ^= 1;
    writeFileSync(path, otherMagic, { mode: 0o600 });
    assert.equal(readCache(path), undefined, 'another format');
    writeFileSync(path, good, { mode: 0o600 });
    chmodSync(path, 0o666);
    assert.equal(readCache(path), undefined, 'writable by others');
    chmodSync(path, 0o600);
    assert.deepEqual(readCache(path), payload);
    assert.equal(readCache(join(dir, 'absent.v8')), undefined);
    // Into memory the caller hands over when it is large enough; a buffer of its own otherwise.
    const scratch = Buffer.alloc(good.length + 100, 0xee);
    const into = readCache(path, scratch);
    assert.deepEqual(into, payload);
    assert.equal(into!.buffer, scratch.buffer);
    const small = readCache(path, Buffer.alloc(10));
    assert.deepEqual(small, payload);
    writeFileSync(path, flipped, { mode: 0o600 });
    assert.equal(readCache(path, scratch), undefined, 'a changed payload, read into scratch memory');
  });

  it('drops the caches of other builds when it writes one', () => {
    writeFileSync(join(dir, 'old-v20-x64-version.v8'), 'x');
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    writeCache(join(dir, 'b2-v20-x64-version.v8'), Buffer.from('data'), 'b2-');
    assert.equal(existsSync(join(dir, 'old-v20-x64-version.v8')), false);
    assert.equal(existsSync(join(dir, 'b1-v20-x64-version.v8')), false);
    assert.equal(existsSync(join(dir, 'unrelated.txt')), true);
    assert.equal(existsSync(join(dir, 'b2-v20-x64-version.v8')), true);
  });
});
