/**
 * Issue 23, signatures as cosign users expect them: a signed bundle checked without a key is
 * SIGNATURE_UNVERIFIED (exit 3), not SIGNATURE_INVALID, and signature errors name the bundle file
 * as well as the entry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { makeSignedBundles, runCli, type SignedBundles } from './harness/signed-bundle.js';

interface JsonError { error: { code: string; where?: string; hint?: string } }

describe('signature conventions', () => {
  let b: SignedBundles;
  let tar: string;

  before(async () => {
    b = await makeSignedBundles();
    tar = await b.exportTo(join(b.work, 'site.tar'));
  });
  after(async () => b?.dispose());

  it('a signed bundle with no --verify-key is SIGNATURE_UNVERIFIED (exit 3), naming the bundle file and the entry', async () => {
    for (const cmd of [['bundle', 'verify', tar], ['bundle', 'import', tar, '--to', '127.0.0.1:1', '--dry-run']]) {
      const r = await runCli([...cmd, '--json']);
      assert.equal(r.code, 3, r.stderr);
      const doc = JSON.parse(r.stdout) as JsonError;
      assert.equal(doc.error.code, 'SIGNATURE_UNVERIFIED');
      assert.equal(doc.error.where, `${tar}, entry airlock.sigstore.json`);
      assert.match(doc.error.hint ?? '', /--verify-key/);
      const human = await runCli(cmd);
      assert.equal(human.code, 3);
      assert.match(human.stderr, new RegExp(`${tar.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, entry airlock\\.sigstore\\.json`));
    }
  });

  it('a wrong key is still SIGNATURE_INVALID, with the file named too', async () => {
    const other = join(b.work, 'other');
    assert.equal((await runCli(['keys', 'generate', '--out', other])).code, 0);
    const r = await runCli(['bundle', 'verify', tar, '--verify-key', `${other}.pub`, '--json']);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as JsonError;
    assert.equal(doc.error.code, 'SIGNATURE_INVALID');
    assert.equal(doc.error.where, `${tar}, entry airlock.sigstore.json`);
  });
});
