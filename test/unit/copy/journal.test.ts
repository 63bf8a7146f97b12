import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileJournal, forgetInJournals, journalKey, parseJournalKey, tagJournalKey } from '../../../src/copy/journal.js';
import { isStaleClaimError } from '../../../src/ops/import.js';
import { registryErrorFrom } from '../../../src/registry/index.js';
import type { Digest } from '../../../src/oci/index.js';

describe('FileJournal (issue 17.1: a hint that can be set aside)', () => {
  it('lists its keys, and reset() forgets them in memory and on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-journal-'));
    try {
      const id = `sha256:${'a'.repeat(64)}`;
      const j = await FileJournal.open(dir, id, 'target');
      await j.record('blob app sha256:1');
      await j.record('tag app 1.0@sha256:2');
      assert.deepEqual([...j.keys()].sort(), ['blob app sha256:1', 'tag app 1.0@sha256:2']);
      await j.reset();
      assert.equal(j.size, 0);
      await j.record('blob app sha256:3');
      await j.close();
      assert.deepEqual((await readFile(j.path, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key), ['blob app sha256:3']);
      const again = await FileJournal.open(dir, id, 'target');
      assert.deepEqual([...again.keys()], ['blob app sha256:3']);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a refusal for want of content is a stale claim; other refusals are not', () => {
    const err = (status: number, code: string): unknown => registryErrorFrom({
      status, method: 'PUT', url: 'http://r/v2/app/manifests/1.0', where: 'r/app', body: Buffer.from(JSON.stringify({ errors: [{ code, message: code }] })), push: true,
    } as Parameters<typeof registryErrorFrom>[0]);
    assert.equal(isStaleClaimError(err(400, 'MANIFEST_BLOB_UNKNOWN')), true);
    assert.equal(isStaleClaimError(err(404, 'MANIFEST_UNKNOWN')), true);
    assert.equal(isStaleClaimError(err(400, 'MANIFEST_INVALID')), false);
    assert.equal(isStaleClaimError(err(401, 'UNAUTHORIZED')), false);
    assert.equal(isStaleClaimError(new Error('other')), false);
  });
});

describe('FileJournal: forgetInJournals (site rollback and prune)', () => {
  it('forgets the steps forgetInJournals selects, in every journal, and only those', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-journal-'));
    try {
      const a = await FileJournal.open(dir, `sha256:${'a'.repeat(64)}`, 'reg|flat');
      await a.record('tag demo/app 1.0@sha256:1');
      await a.record('manifest demo/app sha256:1');
      await a.close();
      const b = await FileJournal.open(dir, `sha256:${'b'.repeat(64)}`, 'reg|flat');
      await b.record('tag demo/app 1.0@sha256:2');
      await b.record('tag demo/lib 1@sha256:3');
      await b.close();
      assert.equal(await forgetInJournals(dir, (k) => k.startsWith('tag demo/app 1.0@')), 2);
      const a2 = await FileJournal.open(dir, `sha256:${'a'.repeat(64)}`, 'reg|flat');
      assert.equal(a2.has('tag demo/app 1.0@sha256:1'), false);
      assert.equal(a2.has('manifest demo/app sha256:1'), true);
      // Recorded again after being forgotten: done again.
      await a2.record('tag demo/app 1.0@sha256:1');
      await a2.close();
      const a3 = await FileJournal.open(dir, `sha256:${'a'.repeat(64)}`, 'reg|flat');
      assert.equal(a3.has('tag demo/app 1.0@sha256:1'), true);
      await a3.close();
      const b2 = await FileJournal.open(dir, `sha256:${'b'.repeat(64)}`, 'reg|flat');
      assert.equal(b2.has('tag demo/app 1.0@sha256:2'), false);
      assert.equal(b2.has('tag demo/lib 1@sha256:3'), true);
      await b2.close();
      assert.equal(await forgetInJournals(join(dir, 'nothing-here'), () => true), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('journal keys (issue 22: written by the engine, read back by the check, defined once)', () => {
  it('round-trips blob, manifest and tag steps, and refuses what is not one', () => {
    const d = `sha256:${'b'.repeat(64)}` as Digest;
    assert.equal(journalKey('blob', 'reg.example/app', d), `blob reg.example/app ${d}`);
    assert.equal(tagJournalKey('reg.example/app', '1.0', d), `tag reg.example/app 1.0@${d}`);
    assert.deepEqual(parseJournalKey(journalKey('manifest', 'reg.example/app', d)), { kind: 'manifest', repository: 'reg.example/app', digest: d });
    assert.deepEqual(parseJournalKey(tagJournalKey('reg.example/app', '1.0', d)), { kind: 'tag', repository: 'reg.example/app', tag: '1.0', digest: d });
    assert.equal(parseJournalKey('tag reg.example/app @sha256:x'), undefined);
    assert.equal(parseJournalKey('other reg.example/app x'), undefined);
    assert.equal(parseJournalKey('blob reg.example/app'), undefined);
  });
});
