import { createHash, randomUUID } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirlockError, abortError, ioError } from '../errors.js';
import { applyMatrix, checkCodeShape, generatorRow, recoveryMatrix } from '../util/index.js';

/**
 * Parity volumes (`export --split-size S --parity N`): N files `OUT.par001`, … beside the volumes,
 * each the Reed–Solomon parity (XOR for N = 1) of the volumes' bytes, every volume padded with
 * zeros to the largest one's size. Any N lost or damaged files of the set (volumes or parity) can
 * be rebuilt, bit-identical, by `airlock bundle repair`.
 *
 * A parity file is its payload (shardSize bytes) followed by a trailer: one JSON line (ParityInfo:
 * the bundle id, the code's shape, and the name, size and sha256 of every volume and parity file)
 * and a fixed-size footer line `airlock-parity <JSON length, 16 digits> <sha256 of the JSON>`.
 * Damage to a trailer is detected by that hash, damage to a payload or a volume by the sha256s the
 * trailer records (and by checksums.txt, which lists the parity files too); a rebuilt volume is
 * checked against its recorded sha256 before it replaces anything, and `bundle verify` then checks
 * it against the signed airlock.json.
 */
export interface ParityInfo {
  readonly version: 1;
  readonly kind: 'airlock-parity';
  readonly bundleId: string;
  /** Data shards: the volumes, in order. */
  readonly k: number;
  /** Parity shards. */
  readonly m: number;
  /** Bytes of every shard (the largest volume); shorter volumes count as zero-padded. */
  readonly shardSize: number;
  /** 0-based index of this file among the parity files. */
  readonly index: number;
  readonly volumes: readonly ShardFile[];
  readonly parity: readonly ShardFile[];
}

export interface ShardFile {
  /** File name (no directory): found beside the other files of the set. */
  readonly name: string;
  /** Payload bytes (for a parity file: without its trailer). */
  readonly size: number;
  readonly sha256: string;
}

const FOOTER_PREFIX = 'airlock-parity ';
/** `airlock-parity ` + 16 digits + ' ' + 64 hex + '\n'. */
const FOOTER_BYTES = FOOTER_PREFIX.length + 16 + 1 + 64 + 1;
const MAX_TRAILER_BYTES = 4 << 20;
const CHUNK = 1 << 20;

/** `site.vol001.tar.zst` → `site.par001`, for parity file `index` (0-based). */
export function parityFileName(firstVolume: string, index: number): string {
  const base = basename(firstVolume).replace(/\.vol\d+\.tar(\.zst)?$/, '');
  return `${base}.par${String(index + 1).padStart(3, '0')}`;
}

function trailerOf(info: ParityInfo): Buffer {
  const json = Buffer.from(`${JSON.stringify(info)}\n`);
  const sha = createHash('sha256').update(json).digest('hex');
  return Buffer.concat([json, Buffer.from(`${FOOTER_PREFIX}${String(json.length).padStart(16, '0')} ${sha}\n`)]);
}

/** Read a parity file's trailer; undefined when it is missing, cut or damaged (its hash does not match). */
export async function readParityInfo(path: string): Promise<{ info: ParityInfo; payloadSize: number } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await fh.stat();
    if (size < FOOTER_BYTES) return undefined;
    const footer = Buffer.alloc(FOOTER_BYTES);
    await fh.read(footer, 0, FOOTER_BYTES, size - FOOTER_BYTES);
    const m = /^airlock-parity (\d{16}) ([0-9a-f]{64})\n$/.exec(footer.toString('latin1'));
    if (!m) return undefined;
    const len = Number(m[1]);
    if (len > MAX_TRAILER_BYTES || len > size - FOOTER_BYTES) return undefined;
    const json = Buffer.alloc(len);
    await fh.read(json, 0, len, size - FOOTER_BYTES - len);
    if (createHash('sha256').update(json).digest('hex') !== m[2]) return undefined;
    const info = JSON.parse(json.toString('utf8')) as ParityInfo;
    if (info.kind !== 'airlock-parity' || info.version !== 1) return undefined;
    const payloadSize = size - FOOTER_BYTES - len;
    if (payloadSize !== info.shardSize) return undefined;
    return { info, payloadSize };
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => {});
  }
}

export async function sha256File(path: string, limit?: number, signal?: AbortSignal): Promise<{ size: number; sha256: string } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const want = limit === undefined ? CHUNK : Math.min(CHUNK, limit - size);
      if (want <= 0) break;
      const { bytesRead } = await fh.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: h.digest('hex') };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Read `length` bytes at `position`, zero-filling past the end of the file. */
async function readPadded(fh: FileHandle, buf: Uint8Array, position: number, length: number, fileSize: number): Promise<void> {
  const n = Math.max(0, Math.min(length, fileSize - position));
  let done = 0;
  while (done < n) {
    const { bytesRead } = await fh.read(buf, done, n - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  buf.fill(0, done, length);
}

export interface WriteParityOptions {
  readonly bundleId: string;
  /** The volumes, in order (vol001 first). */
  readonly volumes: readonly string[];
  readonly m: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytes: number) => void;
}

export interface ParityWritten {
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
  readonly shardSize: number;
}

/**
 * Write the parity files beside the volumes: one pass over the volumes, 1 MiB of each at a time;
 * each parity file is written under a temporary name and renamed when whole (trailer included).
 */
export async function writeParity(opts: WriteParityOptions): Promise<ParityWritten> {
  const k = opts.volumes.length;
  const m = opts.m;
  try {
    checkCodeShape(k, m);
  } catch (err) {
    throw new AirlockError('USAGE', `--parity ${m} with ${k} volume(s): ${(err as Error).message}`, { hint: 'use fewer parity volumes (volumes + parity ≤ 256)' });
  }
  const dir = dirname(opts.volumes[0]!);
  const sizes = await Promise.all(opts.volumes.map(async (v) => (await stat(v).catch((err: unknown) => { throw ioError(err, 'read', v); })).size));
  const shardSize = Math.max(...sizes);
  const rows = Array.from({ length: m }, (_, j) => generatorRow(k, m, k + j));
  const names = Array.from({ length: m }, (_, j) => parityFileName(opts.volumes[0]!, j));
  const tmps = names.map((n) => join(dir, `.${n}.${randomUUID()}.tmp`));
  const ins: FileHandle[] = [];
  const outs: FileHandle[] = [];
  try {
    for (const v of opts.volumes) ins.push(await open(v, 'r').catch((err: unknown) => { throw ioError(err, 'read', v); }));
    for (const t of tmps) outs.push(await open(t, 'wx', 0o644).catch((err: unknown) => { throw ioError(err, 'write', t); }));
    const inBufs = opts.volumes.map(() => new Uint8Array(CHUNK));
    const outBufs = names.map(() => new Uint8Array(CHUNK));
    const volHash = opts.volumes.map(() => createHash('sha256'));
    const parHash = names.map(() => createHash('sha256'));
    // checksums.txt lists whole files (payload + trailer): hashed as written, not read back.
    const fileHash = names.map(() => createHash('sha256'));
    for (let pos = 0; pos < shardSize; pos += CHUNK) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const len = Math.min(CHUNK, shardSize - pos);
      await Promise.all(ins.map((fh, i) => readPadded(fh, inBufs[i]!, pos, len, sizes[i]!)));
      for (let i = 0; i < k; i++) {
        const real = Math.max(0, Math.min(len, sizes[i]! - pos));
        if (real > 0) volHash[i]!.update(inBufs[i]!.subarray(0, real));
      }
      applyMatrix(rows, inBufs, outBufs, len);
      await Promise.all(outs.map(async (fh, j) => {
        parHash[j]!.update(outBufs[j]!.subarray(0, len));
        fileHash[j]!.update(outBufs[j]!.subarray(0, len));
        await fh.write(outBufs[j]!, 0, len);
      }));
      opts.onProgress?.(len * k);
    }
    const volumes = opts.volumes.map((v, i) => ({ name: basename(v), size: sizes[i]!, sha256: volHash[i]!.digest('hex') }));
    const parity = names.map((name, j) => ({ name, size: shardSize, sha256: parHash[j]!.digest('hex') }));
    const files: ParityWritten['files'][number][] = [];
    for (let j = 0; j < m; j++) {
      const trailer = trailerOf({ version: 1, kind: 'airlock-parity', bundleId: opts.bundleId, k, m, shardSize, index: j, volumes, parity });
      await outs[j]!.write(trailer);
      await outs[j]!.sync();
      files.push({ path: join(dir, names[j]!), size: shardSize + trailer.length, sha256: fileHash[j]!.update(trailer).digest('hex') });
    }
    for (const fh of outs.splice(0)) await fh.close();
    for (let j = 0; j < m; j++) await rename(tmps[j]!, join(dir, names[j]!));
    return { files, shardSize };
  } catch (err) {
    throw ioError(err, 'write parity volumes in', dir);
  } finally {
    for (const fh of [...ins, ...outs]) await fh.close().catch(() => {});
    for (const t of tmps) await rm(t, { force: true }).catch(() => {});
  }
}

export interface RepairOptions {
  /** Any of the set's files: volumes and parity files (at least one intact parity file). */
  readonly files: readonly string[];
  /** Check only; rebuild nothing. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytes: number) => void;
}

export interface RepairResult {
  readonly version: 1;
  readonly bundleId: string;
  readonly k: number;
  readonly m: number;
  readonly intact: readonly string[];
  /** Files found missing, cut or damaged. */
  readonly damaged: readonly { readonly path: string; readonly problem: 'missing' | 'size' | 'sha256' }[];
  /** Files rebuilt, each checked against its recorded sha256 before replacing anything. */
  readonly rebuilt: readonly string[];
  readonly dryRun: boolean;
}

/**
 * `airlock bundle repair`: find the set from any intact parity file's trailer, hash every file,
 * and rebuild up to m missing or damaged ones from k intact ones (temporary name, sha256 check,
 * rename over the damaged file).
 */
export async function repairVolumes(opts: RepairOptions): Promise<RepairResult> {
  let found: { info: ParityInfo; dir: string } | undefined;
  for (const f of opts.files) {
    const r = await readParityInfo(f);
    if (r) {
      found = { info: r.info, dir: dirname(f) };
      break;
    }
  }
  if (!found) {
    // Maybe only volumes were named: look for their parity files beside them.
    for (const f of opts.files) {
      for (let j = 0; j < 255 && !found; j++) {
        const candidate = join(dirname(f), parityFileName(f, j));
        const r = await readParityInfo(candidate);
        if (r) found = { info: r.info, dir: dirname(f) };
        else if (!(await stat(candidate).catch(() => undefined))) break;
      }
      if (found) break;
    }
  }
  if (!found) {
    throw new AirlockError('BUNDLE_INCOMPLETE', 'no intact parity volume among the files given', {
      where: opts.files.join(', '),
      hint: 'name the parity files (OUT.par001, …) with the volumes; without one intact parity file nothing can be rebuilt: copy the damaged volumes again',
    });
  }
  const { info, dir } = found;
  const locate = (name: string): string => opts.files.find((f) => basename(f) === name) ?? join(dir, name);
  const shards = [...info.volumes, ...info.parity].map((s, row) => ({ ...s, row, path: locate(s.name), isParity: row >= info.k }));
  const damaged: { path: string; problem: 'missing' | 'size' | 'sha256'; row: number }[] = [];
  const intact: typeof shards = [];
  for (const s of shards) {
    const got = await sha256File(s.path, s.isParity ? info.shardSize : undefined, opts.signal);
    if (!got) damaged.push({ path: s.path, problem: 'missing', row: s.row });
    else if (s.isParity ? (await readParityInfo(s.path))?.payloadSize !== info.shardSize : got.size !== s.size) damaged.push({ path: s.path, problem: 'size', row: s.row });
    else if (got.sha256 !== s.sha256) damaged.push({ path: s.path, problem: 'sha256', row: s.row });
    else intact.push(s);
  }
  const base = { version: 1 as const, bundleId: info.bundleId, k: info.k, m: info.m, intact: intact.map((s) => s.path), damaged: damaged.map(({ path, problem }) => ({ path, problem })), dryRun: Boolean(opts.dryRun) };
  if (damaged.length === 0 || opts.dryRun) return { ...base, rebuilt: [] };
  if (damaged.length > info.m) {
    throw new AirlockError('BUNDLE_INCOMPLETE', `${damaged.length} file(s) of the set are missing or damaged; ${info.m} parity volume(s) can rebuild at most ${info.m}`, {
      where: damaged.map((d) => d.path).join(', '),
      hint: 'copy some of the damaged volumes again, then repair the rest',
    });
  }
  const use = intact.slice(0, info.k);
  const wanted = damaged.map((d) => d.row);
  const rows = recoveryMatrix(info.k, info.m, use.map((s) => s.row), wanted);
  const outsInfo = damaged.map((d) => {
    const s = shards[d.row]!;
    return { s, tmp: join(dirname(s.path), `.${s.name}.${randomUUID()}.tmp`), hash: createHash('sha256'), size: s.isParity ? info.shardSize : s.size };
  });
  const ins: FileHandle[] = [];
  const outs: FileHandle[] = [];
  try {
    for (const s of use) ins.push(await open(s.path, 'r'));
    for (const o of outsInfo) outs.push(await open(o.tmp, 'wx', 0o644));
    const inSizes = use.map((s) => (s.isParity ? info.shardSize : s.size));
    const inBufs = use.map(() => new Uint8Array(CHUNK));
    const outBufs = outsInfo.map(() => new Uint8Array(CHUNK));
    for (let pos = 0; pos < info.shardSize; pos += CHUNK) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const len = Math.min(CHUNK, info.shardSize - pos);
      await Promise.all(ins.map((fh, i) => readPadded(fh, inBufs[i]!, pos, len, inSizes[i]!)));
      applyMatrix(rows, inBufs, outBufs, len);
      await Promise.all(outs.map(async (fh, w) => {
        const o = outsInfo[w]!;
        const real = Math.max(0, Math.min(len, o.size - pos));
        if (real === 0) return;
        o.hash.update(outBufs[w]!.subarray(0, real));
        await fh.write(outBufs[w]!, 0, real);
      }));
      opts.onProgress?.(len * info.k);
    }
    for (let w = 0; w < outsInfo.length; w++) {
      const o = outsInfo[w]!;
      const sha = o.hash.digest('hex');
      if (sha !== o.s.sha256) {
        throw new AirlockError('DIGEST_MISMATCH', `rebuilt ${o.s.name} does not match its recorded sha256`, {
          where: o.s.path, hint: 'another file of the set is damaged in a way its checksum did not show; copy the volumes again',
        });
      }
      if (o.s.isParity) {
        const trailer = trailerOf({ ...info, index: o.s.row - info.k });
        await outs[w]!.write(trailer);
      }
      await outs[w]!.sync();
    }
    for (const fh of outs.splice(0)) await fh.close();
    for (const o of outsInfo) await rename(o.tmp, o.s.path);
    return { ...base, rebuilt: outsInfo.map((o) => o.s.path) };
  } catch (err) {
    throw ioError(err, 'repair volumes in', dir);
  } finally {
    for (const fh of [...ins, ...outs]) await fh.close().catch(() => {});
    for (const o of outsInfo) await rm(o.tmp, { force: true }).catch(() => {});
  }
}
