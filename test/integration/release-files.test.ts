/**
 * Issue 19, signed release files (seed 004: `sha256sum --check checksums.txt`, `cosign verify-blob
 * --signature checksums.txt.sig checksums.txt`), judged from outside:
 * - a checksums file made by coreutils' sha256sum, signed the way `cosign sign-blob --key` signs
 *   (base64 of an ECDSA P-256 signature over the file, SHA-256), made here by openssl;
 * - an SBOM with a key-signed Sigstore bundle (cosign sign-blob --key --bundle, no log);
 * - a release manifest with a keyless Sigstore bundle from a private Sigstore instance
 *   (@sigstore/mock's Fulcio, Rekor and TSA, signed by @sigstore/sign), checked against its
 *   trusted_root.json with the signer identity and issuer;
 * each checked at export, carried in the signed airlock.json with its trust material, and checked
 * again offline at import on the delivered bytes, where sha256sum and openssl agree.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { describeResult, parseJsonOutput, runCli, type CliResult } from '../../fixtures/harness/cli.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import { signBlobWithKey, startMockSigstore, type MockSigstore } from '../../fixtures/harness/sigstore-mock.js';

const execFileP = promisify(execFile);

const ISSUER = 'https://token.actions.example.com';
const IDENTITY = 'release-bot@vendor.example.com';

interface Artifact {
  kind: string; fileName?: string;
  fileSignature?: { method: string; signer: string; issuer?: string; signatureName: string; publicKeyPem?: string; trustedRootJson?: string; identity?: string };
  checksums?: { verified: string[]; missing: string[]; unlisted: string[] };
}
interface ErrorJson { error: { code: string; where?: string; problems?: { code: string; message: string; where?: string }[] } }

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describeResult(r));
}

describe('signed release files and the release set checksums (issue 19)', () => {
  let site: TestRegistry;
  let sigstore: MockSigstore;
  let work: string;
  let n = 0;

  const sh = async (cmd: string): Promise<string> => (await execFileP('sh', ['-c', cmd], { cwd: work })).stdout;
  const writeMirror = async (lines: readonly string[]): Promise<string> => {
    const file = join(work, `mirror-${++n}.yaml`);
    await writeFile(file, ['version: 1', 'files:', ...lines, ''].join('\n'));
    return file;
  };
  const exportCli = (mirror: string, out: string, ...extra: string[]): Promise<CliResult> =>
    runCli(['bundle', 'export', '-f', mirror, '-o', out, '--cache', join(work, 'cache'), ...extra], { timeoutMs: 300_000 });
  const importCli = (bundle: string, name: string, ...extra: string[]): Promise<CliResult> => runCli([
    'bundle', 'import', bundle, '--to', `${site.host}/${name}`, '--dest-tls-verify=false',
    '--state-dir', join(work, 'state', name), '--out-dir', join(work, 'out', name), '--json', ...extra,
  ], { timeoutMs: 300_000 });
  const airlockOf = async (dir: string): Promise<Artifact[]> => (JSON.parse(await readFile(join(dir, 'airlock.json'), 'utf8')) as { artifacts: Artifact[] }).artifacts;
  const signedSet = (): string[] => [
    '  - checksums: ./checksums.txt',
    '    signature: ./checksums.txt.sig',
    '    key: ./cosign.pub',
    '  - path: ./app_1.0.0_linux_amd64.zip',
    '  - path: ./release-manifest.json',
    '    bundle: ./release-manifest.json.sigstore.json',
    `    keyless: { issuer: "${ISSUER}", identity: "${IDENTITY}", trustedRoot: ./trusted_root.json }`,
    '  - path: ./app.spdx.json',
    '    bundle: ./app.spdx.json.sigstore.json',
    '    key: ./cosign.pub',
  ];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-release-files-'));
    // Bundles go below: export writes its own checksums.txt beside a bundle, which must not be the vendor's.
    await mkdir(join(work, 'bundles'));
    [site, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    ok(await runCli(['keys', 'generate', '--out', join(work, 'dmz')]));
    // The vendor's release set, made with the vendor's tools.
    await writeFile(join(work, 'app_1.0.0_linux_amd64.zip'), randomBytes(300_000));
    await writeFile(join(work, 'app_1.0.0_darwin_arm64.zip'), randomBytes(1000));
    const manifest = Buffer.from(`${JSON.stringify({ version: '1.0.0', services: [{ name: 'api', image: 'ghcr.io/vendor/api@sha256:' + 'a'.repeat(64) }] }, null, 2)}\n`);
    await writeFile(join(work, 'release-manifest.json'), manifest);
    await sh('sha256sum app_1.0.0_linux_amd64.zip app_1.0.0_darwin_arm64.zip release-manifest.json > checksums.txt');
    await sh('openssl ecparam -name prime256v1 -genkey -noout -out cosign.key && openssl ec -in cosign.key -pubout -out cosign.pub 2>/dev/null');
    await sh('openssl dgst -sha256 -sign cosign.key checksums.txt | base64 -w0 > checksums.txt.sig');
    await sh('openssl ecparam -name prime256v1 -genkey -noout -out other.key && openssl ec -in other.key -pubout -out other.pub 2>/dev/null');
    await writeFile(join(work, 'release-manifest.json.sigstore.json'), await sigstore.sign(manifest, IDENTITY, ISSUER));
    await writeFile(join(work, 'trusted_root.json'), sigstore.trustedRoot);
    // The SBOM carries a key-signed Sigstore bundle (cosign sign-blob --key --bundle, no tlog).
    await writeFile(join(work, 'app.spdx.json'), '{"spdxVersion":"SPDX-2.3","name":"app"}\n');
    await writeFile(join(work, 'app.spdx.json.sigstore.json'), await signBlobWithKey(await readFile(join(work, 'app.spdx.json')), await readFile(join(work, 'cosign.key'), 'utf8'), await readFile(join(work, 'cosign.pub'), 'utf8')));
  });

  after(async () => {
    await Promise.allSettled([site?.stop(), sigstore?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  describe('a signed release set', () => {
    let bundle: string;
    let artifacts: Artifact[];
    let exported: CliResult;

    before(async () => {
      bundle = join(work, 'bundles', 'release-bundle');
      exported = await exportCli(await writeMirror(signedSet()), bundle, '--sign-key', join(work, 'dmz.key'));
      ok(exported);
      artifacts = await airlockOf(bundle);
    });

    it('checks the cosign key signature and the keyless bundle at export and records them with their trust material', () => {
      const sums = artifacts.find((a) => a.fileName === 'checksums.txt')!;
      assert.equal(sums.fileSignature?.method, 'cosign-key');
      assert.match(sums.fileSignature?.signer ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(sums.fileSignature?.signatureName, 'checksums.txt.sig');
      assert.match(sums.fileSignature?.publicKeyPem ?? '', /BEGIN PUBLIC KEY/);
      const rm = artifacts.find((a) => a.fileName === 'release-manifest.json')!;
      assert.equal(rm.fileSignature?.method, 'sigstore-bundle-keyless');
      assert.equal(rm.fileSignature?.signer, IDENTITY);
      assert.equal(rm.fileSignature?.issuer, ISSUER);
      assert.match(rm.fileSignature?.trustedRootJson ?? '', /trustedroot/);
      const sbom = artifacts.find((a) => a.fileName === 'app.spdx.json')!;
      assert.equal(sbom.fileSignature?.method, 'sigstore-bundle-key');
      assert.equal(sbom.fileSignature?.signer, sums.fileSignature?.signer);
    });

    it('inspect shows who signed each file and what the checksums file covers', async () => {
      const r = await runCli(['bundle', 'inspect', bundle, '--verify-key', join(work, 'dmz.pub')]);
      ok(r);
      assert.match(r.stdout, /vendor signature verified at export: sigstore-bundle-keyless, release-bot@vendor\.example\.com \(https:\/\/token\.actions\.example\.com\); release-manifest\.json\.sigstore\.json carried/);
      assert.match(r.stdout, /checksums of the release set: 2 file\(s\) match; lists 1 not carried \(app_1\.0\.0_darwin_arm64\.zip\); 1 not listed/);
    });

    it('checks every other file of the set against checksums.txt and reports what it lists that is not carried', () => {
      const sums = artifacts.find((a) => a.fileName === 'checksums.txt')!;
      assert.deepEqual(sums.checksums, { verified: ['app_1.0.0_linux_amd64.zip', 'release-manifest.json'], missing: ['app_1.0.0_darwin_arm64.zip'], unlisted: ['app.spdx.json'] });
      assert.match(exported.stderr, /checksums\.txt lists app_1\.0\.0_darwin_arm64\.zip, which the release set does not carry/);
    });

    it('bundle verify --upstream checks them again from the bundle alone', async () => {
      const r = await runCli(['bundle', 'verify', bundle, '--verify-key', join(work, 'dmz.pub'), '--upstream', '--json']);
      ok(r);
      assert.equal((parseJsonOutput(r) as { releaseFilesChecked?: number }).releaseFilesChecked, 4);
    });

    it('checks both again offline at import, and delivers files that sha256sum -c and openssl accept', async () => {
      const r = await importCli(bundle, 'release', '--verify-key', join(work, 'dmz.pub'));
      ok(r);
      const result = parseJsonOutput(r) as { releaseFiles?: { signed: { file: string; method: string; signer: string; signatureFile?: string }[]; checksums: { file: string; verified: string[]; missing: string[] }[] } };
      assert.deepEqual(result.releaseFiles?.signed.map((s) => [s.file, s.method, s.signatureFile]).sort(), [
        ['files/app.spdx.json', 'sigstore-bundle-key', 'files/app.spdx.json.sigstore.json'],
        ['files/checksums.txt', 'cosign-key', 'files/checksums.txt.sig'],
        ['files/release-manifest.json', 'sigstore-bundle-keyless', 'files/release-manifest.json.sigstore.json'],
      ]);
      assert.deepEqual(result.releaseFiles?.checksums[0]?.missing, ['app_1.0.0_darwin_arm64.zip']);
      const files = join(work, 'out', 'release', 'files');
      // The independent judges: coreutils on the vendor's checksums file, openssl on its signature.
      const { stdout } = await execFileP('sha256sum', ['-c', '--ignore-missing', 'checksums.txt'], { cwd: files });
      assert.match(stdout, /app_1\.0\.0_linux_amd64\.zip: OK/);
      assert.match(stdout, /release-manifest\.json: OK/);
      await execFileP('sh', ['-c', `base64 -d checksums.txt.sig > sig.der && openssl dgst -sha256 -verify "${join(work, 'cosign.pub')}" -signature sig.der checksums.txt && rm sig.der`], { cwd: files });
      assert.equal(await readFile(join(files, 'release-manifest.json.sigstore.json'), 'utf8'), await readFile(join(work, 'release-manifest.json.sigstore.json'), 'utf8'));
      // The release record says who signed what, and which checksums file vouches for which file.
      const record = JSON.parse(await readFile(join(work, 'out', 'release', 'release-record.json'), 'utf8')) as { files: { path: string; signature?: { signer: string; checkedAtImport: boolean }; listedIn?: string[]; checksums?: { missing: string[] } }[] };
      const byPath = new Map(record.files.map((f) => [f.path, f]));
      assert.equal(byPath.get('files/release-manifest.json')?.signature?.signer, IDENTITY);
      assert.equal(byPath.get('files/release-manifest.json')?.signature?.checkedAtImport, true);
      assert.deepEqual(byPath.get('files/app_1.0.0_linux_amd64.zip')?.listedIn, ['files/checksums.txt']);
      assert.deepEqual(byPath.get('files/checksums.txt')?.checksums?.missing, ['app_1.0.0_darwin_arm64.zip']);
    });

    it('checks keyless signatures against the site\'s own --trusted-root when it gives one, not the carried root', async () => {
      const other = await startMockSigstore();
      try {
        await writeFile(join(work, 'site_root.json'), other.trustedRoot);
      } finally {
        await other.stop();
      }
      const r = await importCli(bundle, 'site-root', '--verify-key', join(work, 'dmz.pub'), '--trusted-root', join(work, 'site_root.json'));
      assert.equal(r.code, 3, describeResult(r));
      assert.equal((parseJsonOutput(r) as ErrorJson).error.code, 'UPSTREAM_SIGNATURE_INVALID');
      await assert.rejects(stat(join(work, 'out', 'site-root', 'files', 'release-manifest.json')), { code: 'ENOENT' });
      ok(await importCli(bundle, 'site-root-2', '--verify-key', join(work, 'dmz.pub'), '--trusted-root', join(work, 'trusted_root.json')));
    });

    it('refuses at import a file whose carried signature does not verify, and removes it from out-dir', async () => {
      // A bundle whose (unsigned) airlock.json records a signature made over another file: the
      // site's own check, not the export's, must catch it.
      const bad = join(work, 'bundles', 'tampered-bundle');
      ok(await exportCli(await writeMirror(signedSet()), bad));
      const doc = JSON.parse(await readFile(join(bad, 'airlock.json'), 'utf8')) as { artifacts: Artifact[] & { fileSignature?: { signature?: string } }[] };
      const other = (await sh('openssl dgst -sha256 -sign cosign.key release-manifest.json | base64 -w0')).trim();
      for (const a of doc.artifacts as (Artifact & { fileSignature?: { signature?: string } })[]) if (a.fileName === 'checksums.txt' && a.fileSignature) a.fileSignature.signature = other;
      await writeFile(join(bad, 'airlock.json'), JSON.stringify(doc, null, 1));
      // bundle verify --upstream finds it from the bundle alone, offline, before any import.
      const v = await runCli(['bundle', 'verify', bad, '--insecure-skip-signature', '--upstream', '--json']);
      assert.equal(v.code, 3, describeResult(v));
      assert.equal((parseJsonOutput(v) as ErrorJson).error.code, 'UPSTREAM_SIGNATURE_INVALID');
      const r = await importCli(bad, 'tampered', '--insecure-skip-signature');
      assert.equal(r.code, 3, describeResult(r));
      assert.equal((parseJsonOutput(r) as ErrorJson).error.code, 'UPSTREAM_SIGNATURE_INVALID');
      await assert.rejects(stat(join(work, 'out', 'tampered', 'files', 'checksums.txt')), { code: 'ENOENT' });
    });
  });

  describe('what export refuses (exit 3, nothing written)', () => {
    const refused = async (lines: readonly string[], code: string): Promise<ErrorJson> => {
      const out = join(work, 'bundles', `refused-${++n}.tar`);
      const r = await exportCli(await writeMirror(lines), out, '--json');
      assert.equal(r.code, 3, describeResult(r));
      const e = parseJsonOutput(r) as ErrorJson;
      assert.equal(e.error.code, code, describeResult(r));
      await assert.rejects(stat(out), { code: 'ENOENT' });
      return e;
    };

    it('a checksums signature by another key', async () => {
      await refused(signedSet().map((l) => l.replace('./cosign.pub', './other.pub')), 'UPSTREAM_SIGNATURE_INVALID');
    });

    it('a keyless bundle from another identity', async () => {
      await refused(signedSet().map((l) => l.replace(IDENTITY, 'someone-else@vendor.example.com')), 'UPSTREAM_SIGNATURE_INVALID');
    });

    it('a file of the set that differs from checksums.txt, named with the line that lists it', async () => {
      const altered = join(work, 'altered');
      await sh(`mkdir -p altered && cp checksums.txt checksums.txt.sig cosign.pub altered/ && head -c 300000 /dev/urandom > altered/app_1.0.0_linux_amd64.zip`);
      const file = join(altered, 'mirror.yaml');
      await writeFile(file, ['version: 1', 'files:', '  - checksums: ./checksums.txt', '    signature: ./checksums.txt.sig', '    key: ./cosign.pub', '  - path: ./app_1.0.0_linux_amd64.zip', ''].join('\n'));
      const out = join(work, 'bundles', 'altered.tar');
      const r = await exportCli(file, out, '--json');
      assert.equal(r.code, 3, describeResult(r));
      const e = parseJsonOutput(r) as ErrorJson;
      assert.equal(e.error.code, 'DIGEST_MISMATCH');
      assert.equal(e.error.where, 'checksums.txt:1');
      await assert.rejects(stat(out), { code: 'ENOENT' });
    });
  });
});
