/**
 * Issue 20's flags as users meet them: help shows them (and says the identity regexp is unanchored,
 * as cosign's), and their misuse is a usage error (exit 2) before anything is read or fetched.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, jsonErrorCode, runCli } from '../../fixtures/harness/cli.js';

const FLAGS: Record<string, readonly string[]> = {
  'bundle export': ['--keyless', '--identity-token', '--fulcio-url', '--rekor-url', '--tsa-url', '--trusted-root'],
  'bundle import': ['--policy', '--certificate-oidc-issuer-regexp'],
  'bundle verify': ['--certificate-oidc-issuer-regexp'],
  'bundle inspect': ['--policy', '--trusted-root', '--certificate-identity-regexp'],
  'bundle serve': ['--certificate-oidc-issuer-regexp'],
};

describe('provenance flags (issue 20, e2e)', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-e2e-prov-'));
    await writeFile(join(work, 'm.yaml'), 'version: 1\nimages:\n  - 127.0.0.1:1/x:1\n');
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const [command, flags] of Object.entries(FLAGS)) {
    it(`\`${command} --help\` lists ${flags.join(', ')}`, async () => {
      const r = await runCli([...command.split(' '), '--help']);
      assert.equal(r.code, 0, describeResult(r));
      for (const f of flags) assert.ok(r.stdout.includes(f), `${command} --help lacks ${f}`);
    });
  }

  it('says the identity regexp is unanchored, as in cosign', async () => {
    const r = await runCli(['bundle', 'verify', '--help']);
    assert.match(r.stdout.replace(/\s+/g, ' '), /UNANCHORED as in cosign/);
  });

  it('refuses --sign-key with --keyless, and keyless options without --keyless (exit 2)', async () => {
    const base = ['bundle', 'export', '-f', join(work, 'm.yaml'), '-o', join(work, 'o.tar'), '--json'];
    for (const extra of [['--keyless', '--sign-key', join(work, 'k.key')], ['--identity-token', join(work, 't')], ['--keyless', '--fulcio-url', 'ftp://x']]) {
      const r = await runCli([...base, ...extra], { env: { SIGSTORE_ID_TOKEN: 'a.b.c' } });
      assert.equal(r.code, 2, describeResult(r));
      assert.equal(jsonErrorCode(r), 'USAGE', describeResult(r));
    }
  });
});
