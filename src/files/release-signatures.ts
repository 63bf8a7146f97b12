/**
 * Signed release files and the release set's checksums file (issue 19, seed 004: `sha256sum
 * --check checksums.txt`, `cosign verify-blob --signature checksums.txt.sig checksums.txt`).
 * Export checks them on the bytes it carries and records the signature with its trust material in
 * the signed airlock.json; import checks them again, offline, on the files it delivered.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AirlockError, MultiError, ioError, isAirlockError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BundleArtifact, ChecksumsRecord, FileSignatureRecord } from '../bundle/index.js';
import type { CarriedArtifact } from './artifact.js';
import { checkReleaseSet, MAX_CHECKSUMS_BYTES, type ReleaseFile } from './checksums.js';
import type { Delivery } from './deliver.js';
import type { HostSettings } from './resolve.js';
import type { FileEntry, FileSignaturePolicy, MirrorList, SignatureSource } from '../mirror/index.js';
import { MEDIA_TYPE_HELM_CHART, hexOf, type Digest } from '../oci/index.js';
import { fetchUrl } from '../registry/index.js';
import { parsePublicKey, verifyCosignBlob, verifySigstoreBlob, type BlobSigner, type KeylessPolicy } from '../signing/index.js';
import { writeFileAtomic } from '../util/index.js';

/** A signature or a Sigstore bundle is a few KiB; anything this large is not one. */
const MAX_SIGNATURE_FILE = 1024 * 1024;

export interface ReleaseFileDetails {
  readonly fileSignature?: FileSignatureRecord;
  readonly checksums?: ChecksumsRecord;
}

export interface ExportReleaseFilesOptions {
  readonly mirror: MirrorList;
  readonly carried: readonly CarriedArtifact[];
  /** Where the cache holds a blob's bytes. */
  readonly blobPath: (digest: Digest) => string;
  readonly hostSettings: (host: string) => HostSettings | undefined;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Export: every `files:` entry's signature, and every checksums file against the other files of
 * the release set (files and classic charts' .tgz). All problems are reported at once; nothing is
 * written before they pass. Returns airlock.json's details by file name.
 */
export async function checkReleaseFilesAtExport(o: ExportReleaseFilesOptions): Promise<Map<string, ReleaseFileDetails>> {
  const out = new Map<string, ReleaseFileDetails>();
  const problems: AirlockError[] = [];
  const files = o.carried.filter((c) => c.kind === 'file');
  const fileOf = (entry: FileEntry): CarriedArtifact | undefined => files.find((c) => c.fileName === entry.name);
  for (const entry of o.mirror.files) {
    if (!entry.signature) continue;
    const carried = fileOf(entry);
    const layer = carried?.layers[0];
    if (!layer) continue;
    try {
      const record = await recordFor(entry.signature, entry, o);
      const signer = await verifyFileRecord(record, o.blobPath(layer.digest), hexOf(layer.digest), `${entry.name} (${entry.signature.where})`);
      // The policy (issuer or issuerRegexp) stays as the list gave it, for the site to apply again; what the certificate said is beside it.
      out.set(entry.name, { fileSignature: { ...record, signer: signer.signer, ...(signer.issuer ? { signerIssuer: signer.issuer } : {}) } });
      o.logger.info(`${entry.where}: ${entry.name}: vendor signature verified (${signer.signer}${signer.issuer ? `, issuer ${signer.issuer}` : ''})`);
    } catch (err) {
      if (!isAirlockError(err)) throw err;
      problems.push(err);
    }
  }
  const set = releaseSetAtExport(o.carried);
  for (const entry of o.mirror.files) {
    if (!entry.checksums) continue;
    const layer = fileOf(entry)?.layers[0];
    if (!layer) continue;
    try {
      const text = await readSmall(o.blobPath(layer.digest), MAX_CHECKSUMS_BYTES, entry.where);
      const result = checkReleaseSet(text, entry.name, set, entry.where);
      for (const m of result.missing) o.logger.warn(`${entry.where}: ${entry.name} lists ${m}, which the release set does not carry (add it under files: to carry it)`);
      o.logger.info(`${entry.where}: ${entry.name}: ${result.verified.length} file(s) of the release set match it${result.unlisted.length ? `; not listed in it: ${result.unlisted.join(', ')}` : ''}`);
      out.set(entry.name, { ...out.get(entry.name), checksums: result });
    } catch (err) {
      if (!isAirlockError(err)) throw err;
      problems.push(err);
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    const code = problems.every((p) => p.code === problems[0]!.code) ? problems[0]!.code : 'UPSTREAM_SIGNATURE_INVALID';
    throw new MultiError(code, `${problems.length} release files fail their checks`, problems, { hint: 'do not carry a release set that does not verify; fix the files or the mirror list' });
  }
  return out;
}

/** The release set as export carries it: each file's name and sha256, and each classic chart's .tgz. */
function releaseSetAtExport(carried: readonly CarriedArtifact[]): ReleaseFile[] {
  const out: ReleaseFile[] = [];
  for (const c of carried) {
    const layer = c.kind === 'file' ? c.layers[0] : c.layers.find((l) => l.mediaType === MEDIA_TYPE_HELM_CHART);
    if (layer) out.push({ name: c.fileName, sha256: hexOf(layer.digest) });
  }
  return out;
}

/** The trust material and the signature, read once, as airlock.json records them. */
async function recordFor(policy: FileSignaturePolicy, entry: FileEntry, o: ExportReleaseFilesOptions): Promise<FileSignatureRecord> {
  const where = policy.where;
  const source = policy.kind === 'cosign' ? policy.signature : policy.bundle;
  const content = await readSource(source, where, o);
  const signatureName = source.kind === 'path' ? basename(source.path) : (decodeURIComponent(new URL(source.url).pathname.split('/').pop() ?? '') || `${entry.name}.sig`);
  const keyPem = policy.keyPath !== undefined ? await readSmall(policy.keyPath, MAX_SIGNATURE_FILE, where) : undefined;
  if (keyPem !== undefined) parsePublicKey(keyPem, policy.keyPath);
  if (policy.kind === 'cosign') {
    return { method: 'cosign-key', signer: '', signatureName, signature: content.trim(), ...(keyPem !== undefined ? { publicKeyPem: keyPem } : {}) };
  }
  const k = policy.keyless;
  const root = k?.trustedRoot ? await readSmall(k.trustedRoot, 16 * MAX_SIGNATURE_FILE, where) : undefined;
  return {
    method: k ? 'sigstore-bundle-keyless' : 'sigstore-bundle-key', signer: '', signatureName, bundle: content,
    ...(keyPem !== undefined ? { publicKeyPem: keyPem } : {}),
    ...(root !== undefined ? { trustedRootJson: root } : {}),
    ...(k ? {
      ...(k.issuer !== undefined ? { issuer: k.issuer } : {}), ...(k.issuerRegexp !== undefined ? { issuerRegexp: k.issuerRegexp } : {}),
      ...(k.identity !== undefined ? { identity: k.identity } : {}), ...(k.identityRegexp !== undefined ? { identityRegexp: k.identityRegexp } : {}),
    } : {}),
  };
}

async function readSource(source: SignatureSource, where: string, o: ExportReleaseFilesOptions): Promise<string> {
  if (source.kind === 'path') return readSmall(source.path, MAX_SIGNATURE_FILE, where);
  const res = await fetchUrl(source.url, { where, maxBytes: MAX_SIGNATURE_FILE, ...o.hostSettings(new URL(source.url).host), ...(o.signal ? { signal: o.signal } : {}) });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readSmall(path: string, max: number, where: string): Promise<string> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new AirlockError('USAGE', `${path} is not a regular file`, { where });
    if (s.size > max) throw new AirlockError('USAGE', `${path} is ${s.size} bytes, more than the ${max} a signature, key, root or checksums file may have`, { where, hint: 'is this the right file?' });
    return await readFile(path, 'utf8');
  } catch (err) {
    throw isAirlockError(err) ? err : ioError(err, 'read', path);
  }
}

/**
 * Check a file against a signature record: the same code at export (on the cached bytes) and at
 * import (on the delivered file), with only what the record carries.
 */
export async function verifyFileRecord(record: FileSignatureRecord, path: string, sha256: string, where: string, siteRoot?: string): Promise<BlobSigner> {
  const key = record.publicKeyPem !== undefined ? parsePublicKey(record.publicKeyPem, `${where}: key`) : undefined;
  if (record.method === 'cosign-key') {
    if (!key || record.signature === undefined) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${where}: the signature record has no key or signature`, { where });
    return verifyCosignBlob({ path, signature: record.signature, key, where });
  }
  // The signing module reads trusted roots from files: the carried copy goes through a private temp file.
  // The site's own root (--trusted-root), when it gives one, instead of the carried copy.
  const dir = !siteRoot && record.trustedRootJson !== undefined ? await mkdtemp(join(tmpdir(), 'airlock-root-')) : undefined;
  try {
    let keyless: KeylessPolicy | undefined;
    if (dir) await writeFile(join(dir, 'trusted_root.json'), record.trustedRootJson!, { mode: 0o600 });
    const rootPath = siteRoot && record.trustedRootJson !== undefined ? siteRoot : dir ? join(dir, 'trusted_root.json') : undefined;
    if (rootPath) {
      keyless = {
        trustedRootPath: rootPath, ...(record.issuer !== undefined ? { issuer: record.issuer } : {}),
        ...(record.issuerRegexp !== undefined ? { issuerRegexp: record.issuerRegexp } : {}),
        ...(record.identity !== undefined ? { identity: record.identity } : {}), ...(record.identityRegexp !== undefined ? { identityRegexp: record.identityRegexp } : {}),
      };
    }
    if (record.method === 'sigstore-bundle-keyless' && !keyless) throw new AirlockError('UPSTREAM_SIGNATURE_INVALID', `${where}: a keyless record without a trusted root`, { where });
    return await verifySigstoreBlob({ path, sha256, bundle: Buffer.from(record.bundle ?? '', 'utf8'), key, keyless, where });
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** What import found when it checked the delivered release files again. */
export interface ReleaseFilesCheck {
  /** Files whose vendor signature verified again: name → signer. */
  readonly signed: readonly { readonly file: string; readonly method: FileSignatureRecord['method']; readonly signer: string; readonly issuer?: string; readonly signatureFile?: string }[];
  /** Per checksums file: what matched, what it lists that was not carried. */
  readonly checksums: readonly { readonly file: string; readonly verified: readonly string[]; readonly missing: readonly string[]; readonly unlisted: readonly string[] }[];
}

/**
 * Import: once every file is delivered, check each signature again on the delivered bytes (with
 * the trust material the signed airlock.json carries), write the signature file beside it, and
 * check the delivered files against each delivered checksums file. A failure is exit 3, and the
 * file that failed is removed from out-dir so that nothing unverified is left to be used.
 */
export async function recheckReleaseFiles(
  outDir: string, artifacts: readonly BundleArtifact[], deliveries: readonly Delivery[], logger: Logger,
  /** `--trusted-root`: keyless signatures are checked against the site's root instead of the carried one. */
  siteRoot?: string,
): Promise<ReleaseFilesCheck> {
  const problems: AirlockError[] = [];
  const signed: ReleaseFilesCheck['signed'][number][] = [];
  const checksums: ReleaseFilesCheck['checksums'][number][] = [];
  const deliveredNames = new Set(deliveries.map((d) => d.path));
  const deliveryOf = (a: BundleArtifact): Delivery | undefined => deliveries.find((d) => d.path === `files/${a.fileName}` && d.source === a.source);
  for (const a of artifacts) {
    if (a.kind !== 'file' || !a.fileName || !a.fileSignature) continue;
    const d = deliveryOf(a);
    if (!d) continue;
    const path = join(outDir, d.path);
    try {
      const signer = await verifyFileRecord(a.fileSignature, path, hexOf(d.digest), `files/${a.fileName}`, siteRoot);
      let signatureFile: string | undefined;
      const sigRel = `files/${a.fileSignature.signatureName}`;
      // Never over a delivered file, nor over files/SHA256SUMS, the list of what was delivered.
      if (!deliveredNames.has(sigRel) && a.fileSignature.signatureName !== 'SHA256SUMS') {
        await writeFileAtomic(join(outDir, sigRel), a.fileSignature.method === 'cosign-key' ? `${a.fileSignature.signature ?? ''}\n` : a.fileSignature.bundle ?? '');
        signatureFile = sigRel;
      }
      signed.push({ file: d.path, method: a.fileSignature.method, signer: signer.signer, ...(signer.issuer ? { issuer: signer.issuer } : {}), ...(signatureFile ? { signatureFile } : {}) });
    } catch (err) {
      if (!isAirlockError(err)) throw err;
      await rm(path, { force: true }).catch(() => {});
      problems.push(err);
    }
  }
  const set: ReleaseFile[] = deliveries.map((d) => ({ name: basename(d.path), sha256: hexOf(d.digest) }));
  for (const a of artifacts) {
    if (a.kind !== 'file' || !a.fileName || !a.checksums) continue;
    const d = deliveryOf(a);
    if (!d) continue;
    try {
      const text = await readSmall(join(outDir, d.path), MAX_CHECKSUMS_BYTES, d.path);
      const r = checkReleaseSet(text, a.fileName, set, d.path);
      for (const m of r.missing) logger.warn(`${d.path} lists ${m}, which this bundle does not carry`);
      checksums.push({ file: d.path, ...r });
    } catch (err) {
      if (!isAirlockError(err)) throw err;
      problems.push(err);
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new MultiError(problems[0]!.code, `${problems.length} delivered release files fail their checks`, problems, { hint: 'the bundle was altered or damaged: copy it again and run `airlock bundle verify`' });
  return { signed, checksums };
}
