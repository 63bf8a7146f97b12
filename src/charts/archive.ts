import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AirlockError, ioError } from '../errors.js';
import { readTarEntries } from '../archive/index.js';

/**
 * The text files of a Helm chart that say which images it needs: Chart.yaml, values.yaml and the
 * templates, of the chart and of its subcharts (unpacked under `charts/NAME/` or packed as
 * `charts/NAME-VERSION.tgz`). Paths are relative to the chart's own directory.
 */
export interface ChartFiles {
  /** The chart's directory name in the archive (usually its name). */
  readonly root: string;
  readonly chartYaml?: string;
  /** Chart.yaml of the chart ('') and of every subchart (`charts/redis`), keyed by directory. */
  readonly chartYamls: ReadonlyMap<string, string>;
  /** values.yaml of the chart and every subchart, keyed by path (`values.yaml`, `charts/redis/values.yaml`). */
  readonly values: ReadonlyMap<string, string>;
  /** Everything under a `templates/` directory, keyed by path. */
  readonly templates: ReadonlyMap<string, string>;
  /** The chart's own Chart.lock (`helm dependency update` writes it), when it has one. */
  readonly chartLock?: string;
}

/** One text file larger than this is not a chart file anyone writes by hand: skip it. */
const MAX_TEXT_FILE = 4 << 20;
/** Uncompressed bytes read from one archive (a zip bomb stops here). */
const MAX_ARCHIVE_BYTES = 256 << 20;
/** Packed subcharts inside packed subcharts stop here. */
const MAX_DEPTH = 3;

/** Read a packed chart (`helm package` output: a gzip'd tar with one top directory). */
export async function readChartArchive(tgz: Readable, where: string): Promise<ChartFiles> {
  return readArchive(tgz, where, 0);
}

/** A chart given as a `.tgz` file or as an unpacked directory (the one holding Chart.yaml). */
export async function readChart(path: string): Promise<ChartFiles> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw ioError(err, 'read the chart', path);
  }
  if (st.isDirectory()) return readChartDir(path);
  const { createReadStream } = await import('node:fs');
  return readChartArchive(createReadStream(path), path);
}

async function readArchive(tgz: Readable, where: string, depth: number): Promise<ChartFiles> {
  const gunzip = createGunzip();
  tgz.on('error', (err) => gunzip.destroy(err));
  const tar = tgz.pipe(gunzip);
  const files = new Map<string, string>();
  const packed: { path: string; bytes: Buffer }[] = [];
  let total = 0;
  let root: string | undefined;
  try {
    for await (const entry of readTarEntries(tar, { where })) {
      total += entry.size;
      if (total > MAX_ARCHIVE_BYTES) {
        throw new AirlockError('MANIFEST_INVALID', `the chart unpacks to more than ${MAX_ARCHIVE_BYTES} bytes`, { where, hint: 'this is not a Helm chart archive' });
      }
      const slash = entry.path.indexOf('/');
      if (slash <= 0) continue;
      root ??= entry.path.slice(0, slash);
      if (entry.path.slice(0, slash) !== root) continue;
      const rel = entry.path.slice(slash + 1);
      const isPackedSubchart = depth < MAX_DEPTH && /^(?:[^/]+\/)*charts\/[^/]+\.tgz$/.test(rel);
      if (entry.size > MAX_TEXT_FILE || !(isWanted(rel) || isPackedSubchart)) continue;
      const bytes = await readAll(entry.body);
      if (isPackedSubchart) packed.push({ path: rel, bytes });
      else files.set(rel, bytes.toString('utf8'));
    }
  } catch (err) {
    if (err instanceof AirlockError && err.code !== 'BUNDLE_UNREADABLE') throw err;
    throw new AirlockError('MANIFEST_INVALID', 'the chart is not a readable .tgz (gzip-compressed tar)', {
      where, cause: err, hint: 'pass a chart made by `helm package`, or its unpacked directory',
    });
  }
  if (root === undefined) throw new AirlockError('MANIFEST_INVALID', 'the chart archive holds no chart directory', { where });
  for (const p of packed) {
    const sub = await readArchive(Readable.from([p.bytes]), `${where} → ${p.path}`, depth + 1);
    const base = p.path.slice(0, p.path.lastIndexOf('/') + 1) + sub.root;
    for (const [k, v] of sub.chartYamls) files.set(`${base}/${k ? `${k}/` : ''}Chart.yaml`, v);
    for (const [k, v] of sub.values) files.set(`${base}/${k}`, v);
    for (const [k, v] of sub.templates) files.set(`${base}/${k}`, v);
  }
  return toChartFiles(root, files);
}

async function readChartDir(dir: string): Promise<ChartFiles> {
  const files = new Map<string, string>();
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 12) return;
    let names;
    try {
      names = await readdir(d, { withFileTypes: true });
    } catch (err) {
      throw ioError(err, 'read the chart directory', d);
    }
    for (const n of names) {
      const p = join(d, n.name);
      const rel = relative(dir, p).split(sep).join('/');
      if (n.isDirectory()) await walk(p, depth + 1);
      else if (n.isFile() && /^(?:[^/]+\/)*charts\/[^/]+\.tgz$/.test(rel)) {
        const sub = await readChart(p);
        const base = rel.slice(0, rel.lastIndexOf('/') + 1) + sub.root;
        for (const [k, v] of sub.chartYamls) files.set(`${base}/${k ? `${k}/` : ''}Chart.yaml`, v);
        for (const [k, v] of sub.values) files.set(`${base}/${k}`, v);
        for (const [k, v] of sub.templates) files.set(`${base}/${k}`, v);
      } else if (n.isFile() && isWanted(rel)) {
        const s = await stat(p);
        if (s.size <= MAX_TEXT_FILE) files.set(rel, await readFile(p, 'utf8'));
      }
    }
  };
  await walk(dir, 0);
  if (!files.has('Chart.yaml')) {
    throw new AirlockError('USAGE', `${dir} holds no Chart.yaml`, { where: dir, hint: 'pass the chart directory (the one with Chart.yaml) or a .tgz' });
  }
  return toChartFiles(dir.split(sep).filter(Boolean).pop() ?? dir, files);
}

function isWanted(rel: string): boolean {
  return rel === 'Chart.yaml' || rel === 'Chart.lock' || /(?:^|\/)charts\/[^/]+\/Chart\.yaml$/.test(rel) || /(?:^|\/)values\.yaml$/.test(rel) || /(?:^|\/)templates\//.test(rel);
}

function toChartFiles(root: string, files: ReadonlyMap<string, string>): ChartFiles {
  const values = new Map<string, string>();
  const templates = new Map<string, string>();
  const chartYamls = new Map<string, string>();
  for (const [k, v] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (/(?:^|\/)templates\//.test(k)) templates.set(k, v);
    else if (/(?:^|\/)Chart\.yaml$/.test(k)) chartYamls.set(k.slice(0, Math.max(0, k.length - 'Chart.yaml'.length - 1)), v);
    else if (/(?:^|\/)values\.yaml$/.test(k)) values.set(k, v);
  }
  const chartYaml = files.get('Chart.yaml');
  const chartLock = files.get('Chart.lock');
  return { root, ...(chartYaml !== undefined ? { chartYaml } : {}), chartYamls, values, templates, ...(chartLock !== undefined ? { chartLock } : {}) };
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
