import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditLog } from '../../../src/deploy/index.js';
import { tempDir } from '../archive/temp.js';

const lines = async (path: string): Promise<Record<string, unknown>[]> =>
  (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('AuditLog', () => {
  it('lines written at once reach every file in order, each by the time its write resolves', async (t) => {
    const dir = await tempDir(t);
    const a = join(dir, 'out', 'audit.jsonl');
    const b = join(dir, 'state', 'site', 'audit.jsonl');
    const log = new AuditLog([a, b], { registry: 'reg.example' });
    await log.write({ action: 'start', result: 'ok' });
    const writes = Array.from({ length: 20 }, (_, i) => log.write({ action: 'skip', repository: `r${i}`, result: 'exists' }));
    // The first of a burst resolves with its own line in both files, later lines may be there too.
    await writes[0];
    assert.equal((await lines(a)).at(1)?.repository, 'r0');
    await Promise.all(writes);
    await log.write({ action: 'finish', result: 'ok' });
    for (const path of [a, b]) {
      const got = await lines(path);
      assert.deepEqual(got.map((l) => l.repository ?? l.action), ['start', ...Array.from({ length: 20 }, (_, i) => `r${i}`), 'finish']);
      assert.ok(got.every((l) => l.registry === 'reg.example'));
    }
  });

  it('a failed append rejects that write and the ones after it', async (t) => {
    const dir = await tempDir(t);
    const log = new AuditLog(join(dir, 'audit.jsonl'));
    await log.write({ action: 'start', result: 'ok' });
    // A directory where the file should be: appending fails.
    const bad = new AuditLog(dir);
    await assert.rejects(bad.write({ action: 'start', result: 'ok' }), /audit log/);
    await assert.rejects(bad.write({ action: 'finish', result: 'ok' }), /audit log/);
    assert.equal((await lines(join(dir, 'audit.jsonl'))).length, 1);
  });
});
