/**
 * `export --include-tool`: the tool's own single executable travels beside the bundle, recorded
 * (name, size, sha256) in the signed airlock.json; `verify` and `import` check the file they find
 * there against that record, `inspect` shows it. Which file is "the tool" is the CLI's call
 * (src/cli/tool.ts): the executable itself, or the release executable of the node CLI's checkout.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError, DigestMismatchError, SizeMismatchError, ioError } from '../errors.js';
import type { Digest } from '../oci/index.js';
import type { AirlockManifest, CarriedTool } from './types.js';
import { tempNameFor } from './writer.js';
import { writeFileAtomic } from '../util/index.js';

/** The file to carry and what it is. */
export interface ToolToCarry {
  /** Where the executable is now. */
  readonly path: string;
  /** Its name beside the bundle. */
  readonly file: string;
  readonly platform: string;
  readonly version: string;
  readonly commit?: string;
}

/** A copy of the tool written beside the output under a temporary name, hashed on the way. */
export interface StagedTool {
  readonly record: CarriedTool;
  readonly tmp: string;
  readonly final: string;
}

/**
 * Copy the tool to a temporary name beside `output` (removed with the other leftovers of a killed
 * export: bundle/writer.ts removeStaleTemporaries), hashing what is written.
 */
export async function stageTool(tool: ToolToCarry, output: string, signal?: AbortSignal): Promise<StagedTool> {
  const final = join(dirname(output), tool.file);
  const tmp = tempNameFor(join(dirname(output), `${basename(output)}.tool`));
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      createReadStream(tool.path, { highWaterMark: 1 << 20 }),
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      }),
      createWriteStream(tmp, { flags: 'wx', mode: 0o755 }),
      ...(signal ? [{ signal }] as const : []),
    );
    await chmod(tmp, 0o755);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(err, 'copy the tool', tool.path);
  }
  const record: CarriedTool = {
    file: tool.file, size, digest: `sha256:${hash.digest('hex')}` as Digest, platform: tool.platform, version: tool.version,
    ...(tool.commit ? { commit: tool.commit } : {}),
  };
  return { record, tmp, final };
}

/** Once the bundle is written: the tool into place, and its line into checksums.txt. */
export async function publishTool(staged: StagedTool, checksums: string): Promise<void> {
  try {
    await rename(staged.tmp, staged.final);
    const listed = await readFile(checksums, 'utf8');
    await writeFileAtomic(checksums, `${listed}${staged.record.digest.slice('sha256:'.length)}  ${staged.record.file}\n`);
  } catch (err) {
    throw ioError(err, 'write', staged.final);
  }
}

export async function discardTool(staged: StagedTool | undefined): Promise<void> {
  if (staged) await rm(staged.tmp, { force: true }).catch(() => {});
}

/** What `verify`, `import` and `inspect` say about the carried executable. */
export interface ToolCheck extends CarriedTool {
  /** Where it was looked for: beside the bundle. */
  readonly path: string;
  /**
   * `verified`: there, with the recorded size and sha256; `present`: there with the recorded size
   * (inspect does not hash it); `absent`: not there (not a failure: the drive may carry it
   * elsewhere); `different`: there, but not a regular file of the recorded size (inspect reports
   * it; verify and import fail).
   */
  readonly status: 'verified' | 'present' | 'absent' | 'different';
}

/** Where the executable carried with `bundle` (its path, a volume's, or a directory's) is expected. */
export function carriedToolPath(record: CarriedTool, bundle: string): string {
  return join(dirname(resolve(bundle)), record.file);
}

/**
 * Check the executable beside the bundle against the signed record. A file of another size or
 * digest fails with exit 3 (SIZE_MISMATCH, DIGEST_MISMATCH, BUNDLE_TAMPERED): whatever changed
 * it, it is not what the signer carried. With `hash: false` (inspect, which reports and never
 * refuses) only the type and size are compared, and a difference is reported as `different`.
 */
export async function checkCarriedTool(manifest: AirlockManifest, bundle: string, opts: { hash?: boolean; signal?: AbortSignal } = {}): Promise<ToolCheck | undefined> {
  const record = manifest.tool.executable;
  if (!record) return undefined;
  const path = carriedToolPath(record, bundle);
  const where = path;
  const hint = 'do not run it: copy the executable again from the source, then check it with `sha256sum -c checksums.txt`';
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...record, path, status: 'absent' };
    throw ioError(err, 'read', path);
  }
  if (opts.hash === false) return { ...record, path, status: st.isFile() && st.size === record.size ? 'present' : 'different' };
  if (!st.isFile()) throw new AirlockError('BUNDLE_TAMPERED', `${record.file} beside the bundle is not a regular file`, { where, hint });
  if (st.size !== record.size) throw new SizeMismatchError(record.file, record.size, st.size, { where, hint });
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) hash.update(chunk);
    }, ...(opts.signal ? [{ signal: opts.signal }] as const : []));
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== record.digest) throw new DigestMismatchError(record.digest, actual, st.size, { where, hint });
  return { ...record, path, status: 'verified' };
}
