import { readFile, stat } from 'node:fs/promises';
import { AirlockError, MultiError, ioError } from '../errors.js';
import { digestOf, isDigest, type Digest } from '../oci/index.js';
import {
  AIRLOCK_FORMAT_VERSION, type AirlockManifest, type ArtifactKind, type BlobLocation,
} from './types.js';

export const MAX_AIRLOCK_JSON_BYTES = 64 * 1024 * 1024;
export const MAX_BLOBS = 1_000_000;
export const MAX_ARTIFACTS = 100_000;
export const MAX_BASES = 10_000;
const MAX_PROBLEMS = 20;

/** The bundle id: the sha256 digest of airlock.json's exact bytes (docs/ARCHITECTURE.md "The bundle format"). */
export function bundleIdOf(raw: Uint8Array): Digest {
  return digestOf(raw);
}

const KINDS: ReadonlySet<ArtifactKind> = new Set(['image', 'chart', 'file', 'referrer']);
const LOCATIONS: ReadonlySet<BlobLocation> = new Set(['bundle', 'base']);
const SIGNATURE_METHODS: ReadonlySet<string> = new Set(['cosign-key', 'sigstore-bundle-key', 'sigstore-bundle-keyless']);
const ARCHIVE_FORMATS: ReadonlySet<string> = new Set(['docker-archive', 'oci-archive', 'oci-layout']);

type Json = Record<string, unknown>;

/**
 * Validate untrusted airlock.json bytes. Every problem found in one pass is reported (up to 20),
 * each with its JSON path. A version other than 1 is BUNDLE_VERSION (a newer tool wrote it);
 * anything else wrong is BUNDLE_UNREADABLE. The returned object is the parsed JSON itself, so
 * fields a newer minor writer adds are kept.
 */
export function parseAirlockManifest(raw: Uint8Array, where = 'airlock.json'): AirlockManifest {
  if (raw.byteLength > MAX_AIRLOCK_JSON_BYTES) {
    throw new AirlockError('BUNDLE_UNREADABLE', `airlock.json is larger than ${MAX_AIRLOCK_JSON_BYTES} bytes`, { where });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch (err) {
    throw new AirlockError('BUNDLE_UNREADABLE', 'airlock.json is not valid JSON', { where, cause: err, hint: 'the bundle is damaged: copy it again' });
  }
  if (!isObject(doc)) throw new AirlockError('BUNDLE_UNREADABLE', 'airlock.json is not a JSON object', { where });
  if (doc.version !== AIRLOCK_FORMAT_VERSION) {
    if (typeof doc.version === 'number' && Number.isInteger(doc.version) && doc.version > AIRLOCK_FORMAT_VERSION) {
      throw new AirlockError('BUNDLE_VERSION', `the bundle uses format version ${doc.version}; this airlock reads version ${AIRLOCK_FORMAT_VERSION}`, {
        where,
        hint: 'upgrade airlock on this side to the version that wrote the bundle (or newer)',
      });
    }
    throw new AirlockError('BUNDLE_UNREADABLE', `airlock.json has an unsupported version ${JSON.stringify(doc.version)?.slice(0, 40)}`, { where });
  }

  const problems: string[] = [];
  const bad = (path: string, what: string): void => {
    problems.push(`${path} ${what}`);
  };
  const str = (o: Json, k: string, path: string, optional = false): void => {
    if (o[k] === undefined && optional) return;
    if (typeof o[k] !== 'string') bad(`${path}.${k}`, 'must be a string');
  };
  const digest = (o: Json, k: string, path: string, optional = false): void => {
    if (o[k] === undefined && optional) return;
    if (!isDigest(o[k])) bad(`${path}.${k}`, `is not a valid sha256 digest: ${JSON.stringify(o[k])?.slice(0, 80)}`);
  };
  const size = (o: Json, k: string, path: string, optional = false): void => {
    if (o[k] === undefined && optional) return;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${path}.${k}`, 'must be a non-negative safe integer');
  };
  const digestList = (o: Json, k: string, path: string): void => {
    if (o[k] === undefined) return;
    const v = o[k];
    if (!Array.isArray(v)) bad(`${path}.${k}`, 'must be an array');
    else v.forEach((d, i) => { if (!isDigest(d)) bad(`${path}.${k}[${i}]`, 'is not a valid sha256 digest'); });
  };

  str(doc, 'created', '$');
  if (!isObject(doc.tool) || doc.tool.name !== 'airlock' || typeof doc.tool.version !== 'string') bad('$.tool', 'must be { name: "airlock", version }');
  else {
    str(doc.tool, 'commit', '$.tool', true);
    const e = doc.tool.executable;
    if (e !== undefined) {
      const p = '$.tool.executable';
      if (!isObject(e)) bad(p, 'must be an object');
      else {
        // A file name the site resolves beside the bundle: nothing that leaves that directory.
        if (!isSafeFileName(e.file)) bad(`${p}.file`, 'must be a plain file name (no "/", "\\", "..", NUL)');
        size(e, 'size', p);
        digest(e, 'digest', p);
        str(e, 'platform', p);
        str(e, 'version', p);
        str(e, 'commit', p, true);
      }
    }
  }

  // volumes
  let volumeCount: number | undefined;
  if (doc.volumes !== undefined) {
    const v = doc.volumes;
    if (!isObject(v) || !isPositiveInt(v.count) || !isPositiveInt(v.maxSize)) bad('$.volumes', 'must be { count ≥ 1, maxSize ≥ 1 }');
    else volumeCount = v.count as number;
  }

  // bases
  if (!Array.isArray(doc.bases)) bad('$.bases', 'must be an array');
  else if (doc.bases.length > MAX_BASES) bad('$.bases', `has more than ${MAX_BASES} entries`);
  else doc.bases.forEach((b, i) => {
    const p = `$.bases[${i}]`;
    if (!isObject(b)) return bad(p, 'must be an object');
    digest(b, 'id', p);
    if (b.kind !== 'bundle' && b.kind !== 'receipt') bad(`${p}.kind`, 'must be "bundle" or "receipt"');
    str(b, 'created', p, true);
  });

  // blobs
  const blobDigests = new Set<string>();
  if (!Array.isArray(doc.blobs)) bad('$.blobs', 'must be an array');
  else if (doc.blobs.length > MAX_BLOBS) bad('$.blobs', `has more than ${MAX_BLOBS} entries`);
  else doc.blobs.forEach((b, i) => {
    const p = `$.blobs[${i}]`;
    if (!isObject(b)) return bad(p, 'must be an object');
    digest(b, 'digest', p);
    size(b, 'size', p);
    str(b, 'mediaType', p);
    if (typeof b.digest === 'string') {
      if (blobDigests.has(b.digest)) bad(`${p}.digest`, `lists ${b.digest} a second time`);
      blobDigests.add(b.digest);
    }
    if (!LOCATIONS.has(b.location as BlobLocation)) bad(`${p}.location`, 'must be "bundle" or "base"');
    digestList(b, 'bases', p);
    if (b.volume !== undefined) {
      if (!isPositiveInt(b.volume)) bad(`${p}.volume`, 'must be a positive integer');
      else if (volumeCount === undefined || (b.volume as number) > volumeCount) bad(`${p}.volume`, 'names a volume the bundle does not have');
      if (b.location !== 'bundle') bad(`${p}.volume`, 'is set on a blob that is not in the bundle');
      if (b.pieces !== undefined) bad(p, 'has both volume and pieces');
    }
    if (b.pieces !== undefined) checkPieces(b, p, volumeCount, bad);
  });

  // artifacts
  if (!Array.isArray(doc.artifacts)) bad('$.artifacts', 'must be an array');
  else if (doc.artifacts.length > MAX_ARTIFACTS) bad('$.artifacts', `has more than ${MAX_ARTIFACTS} entries`);
  else doc.artifacts.forEach((a, i) => {
    const p = `$.artifacts[${i}]`;
    if (!isObject(a)) return bad(p, 'must be an object');
    if (!KINDS.has(a.kind as ArtifactKind)) bad(`${p}.kind`, 'must be image, chart, file or referrer');
    str(a, 'source', p);
    str(a, 'repository', p);
    str(a, 'tag', p, true);
    digest(a, 'digest', p);
    str(a, 'mediaType', p);
    size(a, 'size', p);
    str(a, 'artifactType', p, true);
    if (a.platforms !== undefined && !(Array.isArray(a.platforms) && a.platforms.every((x) => typeof x === 'string'))) bad(`${p}.platforms`, 'must be an array of strings');
    str(a, 'upstreamDigest', p, true);
    digest(a, 'subject', p, true);
    str(a, 'referrerTag', p, true);
    if (a.fileName !== undefined && !isSafeFileName(a.fileName)) bad(`${p}.fileName`, 'must be a plain file name (no "/", "\\", "..", NUL)');
    size(a, 'totalSize', p, true);
    if (a.upstreamSignature !== undefined) {
      const s = a.upstreamSignature;
      const sp = `${p}.upstreamSignature`;
      if (!isObject(s)) bad(sp, 'must be an object');
      else {
        if (typeof s.verified !== 'boolean') bad(`${sp}.verified`, 'must be a boolean');
        if (!SIGNATURE_METHODS.has(s.method as string)) bad(`${sp}.method`, 'is not a known method');
        str(s, 'signer', sp);
        if (!Array.isArray(s.signatures)) bad(`${sp}.signatures`, 'must be an array');
        digestList(s, 'signatures', sp);
        digestList(s, 'trustMaterial', sp);
      }
    }
    if (a.archive !== undefined) {
      const r = a.archive;
      const rp = `${p}.archive`;
      if (!isObject(r)) bad(rp, 'must be an object');
      else {
        if (!ARCHIVE_FORMATS.has(r.format as string)) bad(`${rp}.format`, 'must be docker-archive, oci-archive or oci-layout');
        str(r, 'name', rp);
        str(r, 'ref', rp, true);
        if (r.manifest !== 'airlock' && r.manifest !== 'archive') bad(`${rp}.manifest`, 'must be "airlock" or "archive"');
        str(r, 'sha256', rp, true);
      }
    }
    if (a.tagGiven !== undefined && typeof a.tagGiven !== 'boolean') bad(`${p}.tagGiven`, 'must be a boolean');
    if (a.fromFile !== undefined) {
      if (!isObject(a.fromFile)) bad(`${p}.fromFile`, 'must be an object');
      else {
        str(a.fromFile, 'name', `${p}.fromFile`);
        str(a.fromFile, 'selector', `${p}.fromFile`);
      }
    }
    str(a, 'dependencyOf', p, true);
    if (a.fileSignature !== undefined) {
      const f = a.fileSignature;
      const fp = `${p}.fileSignature`;
      if (!isObject(f)) bad(fp, 'must be an object');
      else {
        if (!SIGNATURE_METHODS.has(f.method as string)) bad(`${fp}.method`, 'is not a known method');
        str(f, 'signer', fp);
        str(f, 'signatureName', fp);
        if (typeof f.signatureName === 'string' && !isSafeFileName(f.signatureName)) bad(`${fp}.signatureName`, 'must be a plain file name');
        for (const k of ['issuer', 'issuerRegexp', 'signerIssuer', 'signature', 'bundle', 'publicKeyPem', 'trustedRootJson', 'identity', 'identityRegexp']) str(f, k, fp, true);
        if ((f.method === 'cosign-key') !== (typeof f.signature === 'string')) bad(fp, 'a cosign-key record has a signature, a bundle record none');
        if (f.method !== 'cosign-key' && typeof f.bundle !== 'string') bad(`${fp}.bundle`, 'must be a string');
      }
    }
    if (a.checksums !== undefined) {
      const c = a.checksums;
      const cp = `${p}.checksums`;
      if (!isObject(c)) bad(cp, 'must be an object');
      else for (const k of ['verified', 'missing', 'unlisted']) {
        if (!(Array.isArray(c[k]) && (c[k] as unknown[]).every((x) => typeof x === 'string'))) bad(`${cp}.${k}`, 'must be an array of strings');
      }
    }
    if (isDigest(a.digest) && !blobDigests.has(a.digest)) bad(`${p}.digest`, `${a.digest} is not listed in $.blobs`);
  });

  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const message = `airlock.json is invalid: ${shown[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`;
    const details = { where, hint: 'the bundle is damaged or was not written by airlock: copy it again' };
    if (problems.length === 1) throw new AirlockError('BUNDLE_UNREADABLE', message, details);
    throw new MultiError('BUNDLE_UNREADABLE', message, shown.map((m) => new AirlockError('BUNDLE_UNREADABLE', m, { where })), details);
  }
  return doc as unknown as AirlockManifest;
}

function checkPieces(b: Json, p: string, volumeCount: number | undefined, bad: (path: string, what: string) => void): void {
  const pieces = b.pieces;
  if (!Array.isArray(pieces) || pieces.length === 0) return bad(`${p}.pieces`, 'must be a non-empty array');
  if (b.location !== 'bundle') bad(`${p}.pieces`, 'are set on a blob that is not in the bundle');
  let next = 0;
  for (const [i, piece] of pieces.entries()) {
    const pp = `${p}.pieces[${i}]`;
    if (!isObject(piece)) return bad(pp, 'must be an object');
    if (!isPositiveInt(piece.volume)) bad(`${pp}.volume`, 'must be a positive integer');
    else if (volumeCount === undefined || (piece.volume as number) > volumeCount) bad(`${pp}.volume`, 'names a volume the bundle does not have');
    if (!isDigest(piece.digest)) bad(`${pp}.digest`, 'is not a valid sha256 digest');
    if (!Number.isSafeInteger(piece.offset) || piece.offset !== next) return bad(`${pp}.offset`, `must be ${next} (pieces are contiguous, in order)`);
    if (!isPositiveInt(piece.size)) return bad(`${pp}.size`, 'must be a positive integer');
    next += piece.size as number;
  }
  if (next !== b.size) bad(`${p}.pieces`, `add up to ${next} bytes, not the blob's ${String(b.size)}`);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPositiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** A name to deliver under out-dir/files/: one path component, nothing that escapes. */
export function isSafeFileName(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0 && v.length <= 255 && v !== '.' && v !== '..' && !/[/\\\0]/.test(v);
}

export interface ManifestFile {
  readonly raw: Buffer;
  readonly manifest: AirlockManifest;
  readonly id: Digest;
}

/** A bare airlock.json (e.g. a `--since` base): read, capped, validated. */
export async function readBundleManifestFile(path: string): Promise<ManifestFile> {
  let raw: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new AirlockError('BUNDLE_UNREADABLE', `${path} is not a file`, { where: path });
    if (st.size > MAX_AIRLOCK_JSON_BYTES) throw new AirlockError('BUNDLE_UNREADABLE', `airlock.json is larger than ${MAX_AIRLOCK_JSON_BYTES} bytes`, { where: path });
    raw = await readFile(path);
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  return { raw, manifest: parseAirlockManifest(raw, path), id: bundleIdOf(raw) };
}
