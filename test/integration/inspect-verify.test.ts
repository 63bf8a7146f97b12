import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { indexTar } from '../../src/archive/index.js';
import { parseEntryName } from '../../src/bundle/index.js';
import type { InspectResult } from '../../src/ops/index.js';
import { makeSignedBundles, runCli, type SignedBundles } from '../../fixtures/harness/signed-bundle.js';
import { flipByte } from '../../fixtures/harness/hostile.js';


describe('bundle inspect and verify', () => {
  let b: SignedBundles;
  let tar: string;

  before(async () => {
    b = await makeSignedBundles();
    tar = await b.exportTo(join(b.work, 'site.tar'));
  });
  after(async () => b?.dispose());

  it('inspect --json reports id, format, tool, signer (verified with the key), every artifact and the totals', async () => {
    const r = await runCli(['bundle', 'inspect', tar, '--verify-key', b.publicKey, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as InspectResult;
    assert.match(doc.bundleId, /^sha256:[a-f0-9]{64}$/);
    assert.equal(doc.formatVersion, 1);
    assert.equal(doc.tool.name, 'airlock');
    assert.equal(doc.signature.verified, true);
    assert.match(doc.signature.signer ?? '', /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(doc.bases, []);
    const kinds = doc.artifacts.map((a) => a.kind).sort();
    assert.deepEqual([...new Set(kinds)], ['chart', 'image', 'referrer']);
    const multi = doc.artifacts.find((a) => a.repository.endsWith('demo/multi'))!;
    assert.deepEqual(multi.platforms, ['linux/amd64', 'linux/arm64']);
    assert.ok(doc.artifacts.filter((a) => a.kind === 'referrer').every((a) => a.subject !== undefined));
    assert.equal(doc.totals.artifacts, doc.artifacts.length);
    assert.equal(doc.totals.bytesFromBases, 0);
    // The demo/app images share layers: dedup saved bytes.
    assert.ok(doc.totals.bytesSavedByDedup > 0);
    const sumArtifacts = doc.artifacts.reduce((s, a) => s + (a.totalSize ?? 0), 0);
    assert.equal(doc.totals.bytesIncluded + doc.totals.bytesFromBases + doc.totals.bytesSavedByDedup, sumArtifacts);
  });

  it('inspect never refuses: a wrong key reports "not verified" and exits 0', async () => {
    const other = join(b.work, 'other');
    assert.equal((await runCli(['keys', 'generate', '--out', other])).code, 0);
    const r = await runCli(['bundle', 'inspect', tar, '--verify-key', `${other}.pub`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as InspectResult;
    assert.equal(doc.signature.signed, true);
    assert.equal(doc.signature.verified, false);
  });

  it('inspect shows a delta: its base and the bytes left to it', async () => {
    const delta = await b.exportTo(join(b.work, 'delta.tar'), ['--since', tar]);
    const r = await runCli(['bundle', 'inspect', delta, '--verify-key', b.publicKey, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as InspectResult;
    const base = JSON.parse((await runCli(['bundle', 'inspect', tar, '--json'])).stdout) as InspectResult;
    assert.deepEqual(doc.bases.map((x) => x.id), [base.bundleId]);
    assert.ok(doc.totals.bytesFromBases > 0);
    assert.ok(doc.totals.bytesIncluded < base.totals.bytesIncluded);
  });

  it('verify passes a good bundle (exit 0) with the key', async () => {
    const r = await runCli(['bundle', 'verify', tar, '--verify-key', b.publicKey, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { blobsChecked: number; signature: { verified: boolean } };
    assert.equal(doc.signature.verified, true);
    assert.ok(doc.blobsChecked > 10);
  });

  it('verify loads a --trusted-root given beside --verify-key in the bundled CLI (a split chunk of a CommonJS package)', async () => {
    const root = fileURLToPath(new URL('../../../fixtures/signing/keyless/trusted_root.json', import.meta.url));
    const r = await runCli(['bundle', 'verify', tar, '--verify-key', b.publicKey, '--trusted-root', root,
      '--certificate-identity', 'dmz@example.com', '--certificate-oidc-issuer', 'https://issuer.example.com', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { signature: { verified: boolean } }).signature.verified, true);
  });

  it('verify lists both of two corrupted blobs and exits 3', async () => {
    const bad = join(b.work, 'bad.tar');
    await copyFile(tar, bad);
    const entries = [...(await indexTar(bad))]
      .filter(([name]) => parseEntryName(name)?.kind === 'blob')
      .sort((x, y) => y[1].size - x[1].size)
      .slice(0, 2);
    assert.equal(entries.length, 2);
    for (const [, loc] of entries) await flipByte(bad, loc.offset + Math.floor(loc.size / 2));
    const r = await runCli(['bundle', 'verify', bad, '--verify-key', b.publicKey, '--json']);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as { error: { code: string; problems: { code: string; message: string; where?: string }[] } };
    assert.equal(doc.error.code, 'DIGEST_MISMATCH');
    assert.equal(doc.error.problems.length, 2);
    for (const [name] of entries) {
      const digest = `sha256:${name.split('/').pop()!}`;
      assert.ok(doc.error.problems.some((p) => `${p.message} ${p.where ?? ''}`.includes(digest)), `${digest} not reported`);
    }
    // Human output: every problem on stderr, nothing on stdout.
    const human = await runCli(['bundle', 'verify', bad, '--verify-key', b.publicKey]);
    assert.equal(human.code, 3);
    assert.equal(human.stdout, '');
    for (const [name] of entries) assert.ok(human.stderr.includes(name.split('/').pop()!));
  });
});
