/**
 * Issue 11, hostile bundles: each is built in code from a good, signed bundle and imported with
 * the built CLI into a real registry. Each must end with exit 2 or 3 and a coded error that names
 * where (--json `where`/`hint`), within a memory bound (peak RSS through /usr/bin/time) and a time
 * guard, writing nothing outside the tool's own state, output and temp directories; the target
 * must not hold a corrupt blob or a tag on incomplete content afterwards.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadPrivateKey, signBundleManifest } from '../../src/signing/index.js';
import { forEachConcurrent } from '../../src/util/index.js';
import {
  entryOffsets, readTar, writeTar, zstdCompress, zstdFrame, type TarItem,
} from '../../fixtures/harness/hostile.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';
import {
  SOAK, checkRegistry, describeRun, exportTo, makeWorkspaceEnv, makeWorld, recordOutcome, runCli, type CliResult, type World,
} from '../../fixtures/harness/reliability.js';

/** Peak RSS any hostile import may reach (Node's own baseline is ~60-90 MiB). */
const RSS_LIMIT_KIB = 400 * 1024;
const TOKEN = `airlock-evil-${randomBytes(4).toString('hex')}`;
const GiB = 1024 ** 3;

interface Built {
  readonly file: string;
  /** Replaces --verify-key world.pub. */
  readonly keyArgs?: readonly string[];
}

interface Case {
  readonly name: string;
  readonly build: (dir: string) => Promise<Built>;
  /** Acceptable error codes. */
  readonly codes: readonly string[];
  /** Exit 0 is also acceptable (the bundle is whole, only unusual): then the target must equal a clean import. */
  readonly mayPass?: boolean;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('hostile bundles: exit 2 or 3, bounded, nothing written outside', { concurrency: 3 }, () => {
  let upstream: TestRegistry;
  let world: World;
  let good: TarItem[];
  let goodTar: Buffer;
  let goodZst: Buffer;
  let otherTar: Buffer;
  let delta: string;
  let cleanTags: Readonly<Record<string, string>>;
  const disposers: (() => Promise<unknown>)[] = [];
  const t = { after: (fn: () => Promise<unknown> | void) => void disposers.push(async () => fn()) };

  before(async () => {
    upstream = await startRegistry();
    disposers.push(() => upstream.stop());
    world = await makeWorld(t, upstream, 'hostile');
    const a = join(world.ws.dir, 'good.tar');
    await exportTo(world, a);
    const b = join(world.ws.dir, 'other.tar');
    await exportTo(world, b);
    const z = join(world.ws.dir, 'good.tar.zst');
    await exportTo(world, z);
    delta = join(world.ws.dir, 'delta.tar');
    // A delta against `good` that needs its layers: the upstream gains nothing, so every layer is in the base.
    await exportTo(world, delta, ['--since', a]);
    goodTar = await readFile(a);
    goodZst = await readFile(z);
    otherTar = await readFile(b);
    good = readTar(goodTar);
    // What a clean import of the good bundle leaves (the yardstick for "mayPass" cases).
    const clean = await startRegistry();
    disposers.push(() => clean.stop());
    const ws = await makeWorkspaceEnv(join(world.ws.dir, 'clean-import'));
    const r = await runCli(['bundle', 'import', a, '--to', clean.host, '--verify-key', world.pub, '--dest-tls-verify=false',
      '--state-dir', join(ws.dir, 'state'), '--out-dir', join(ws.dir, 'out'), '--json'], { env: ws.env });
    assert.equal(r.code, 0, describeRun(r));
    cleanTags = (await checkRegistry(clean)).tags;
    await clean.stop();
  });
  after(async () => {
    for (const d of disposers.reverse()) await d().catch(() => {});
  });

  // ------------------------------------------------------------------------------------------
  // Builders

  const idx = (name: string): number => {
    const i = good.findIndex((e) => e.name === name);
    assert.ok(i >= 0, name);
    return i;
  };
  const manifestJson = (): { blobs: { digest: string; size: number }[]; version: number } =>
    JSON.parse(good[idx('airlock.json')]!.data.toString('utf8')) as { blobs: { digest: string; size: number }[]; version: number };
  /** The last (largest-listed) layer entry: the blob list ends with the layers. */
  const lastLayer = (): TarItem => {
    const doc = manifestJson();
    const name = `blobs/sha256/${doc.blobs[doc.blobs.length - 1]!.digest.slice(7)}`;
    return good[idx(name)]!;
  };
  const write = async (dir: string, items: readonly TarItem[], opts: { trailer?: boolean; name?: string } = {}): Promise<Built> => {
    const file = join(dir, opts.name ?? 'bundle.tar');
    await writeFile(file, writeTar(items, opts));
    return { file };
  };
  const insertAfterFront = (extra: readonly TarItem[]): TarItem[] => {
    const at = idx('index.json') + 1;
    return [...good.slice(0, at), ...extra, ...good.slice(at)];
  };
  const replace = (name: string, item: TarItem): TarItem[] => good.map((e) => (e.name === name ? item : e));
  /** airlock.json changed by `edit`, signed again with the trusted key (so the reader's own checks are what refuse it). */
  const resigned = async (edit: (doc: Record<string, unknown>) => void): Promise<TarItem[]> => {
    const doc = JSON.parse(good[idx('airlock.json')]!.data.toString('utf8')) as Record<string, unknown>;
    edit(doc);
    return withAirlockJson(Buffer.from(JSON.stringify(doc, null, 2)));
  };
  const withAirlockJson = async (raw: Buffer): Promise<TarItem[]> => {
    const key = await loadPrivateKey(world.key, async () => undefined);
    const sig = await signBundleManifest({ airlockJson: raw, bundleId: `sha256:${sha256(raw)}`, baseIds: [], toolVersion: '0.1.0', key });
    return good.map((e) => e.name === 'airlock.json' ? { ...e, data: raw } : e.name === 'airlock.sigstore.json' ? { ...e, data: sig } : e);
  };

  const UNSAFE = ['UNSAFE_ARCHIVE_ENTRY'];
  const cases: Case[] = [
    { name: 'entry with ../', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `../${TOKEN}`, type: '0', data: Buffer.from('pwned\n') }])) },
    { name: 'entry with nested ../ under blobs/', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `blobs/sha256/../../../${TOKEN}`, type: '0', data: Buffer.from('pwned\n') }])) },
    { name: 'absolute path', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `/tmp/${TOKEN}`, type: '0', data: Buffer.from('pwned\n') }])) },
    {
      name: 'symlink in place of a blob', codes: UNSAFE,
      build: (d) => write(d, replace(lastLayer().name, { name: lastLayer().name, type: '2', linkname: '/etc/passwd', data: Buffer.alloc(0) })),
    },
    {
      name: 'symlink pair escaping the root (p -> ., q -> p/..)', codes: UNSAFE,
      build: (d) => write(d, insertAfterFront([
        { name: 'p', type: '2', linkname: '.', data: Buffer.alloc(0) },
        { name: 'q', type: '2', linkname: 'p/..', data: Buffer.alloc(0) },
        { name: `q/${TOKEN}`, type: '0', data: Buffer.from('pwned\n') },
      ])),
    },
    {
      name: 'hard link in place of a blob', codes: UNSAFE,
      build: (d) => write(d, replace(lastLayer().name, { name: lastLayer().name, type: '1', linkname: '/etc/passwd', data: Buffer.alloc(0) })),
    },
    { name: 'character device', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `${TOKEN}-null`, type: '3', data: Buffer.alloc(0) }])) },
    { name: 'block device', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `${TOKEN}-sda`, type: '4', data: Buffer.alloc(0) }])) },
    { name: 'FIFO', codes: UNSAFE, build: (d) => write(d, insertAfterFront([{ name: `${TOKEN}-fifo`, type: '6', data: Buffer.alloc(0) }])) },
    {
      name: 'duplicate blob entry with different bytes', codes: ['UNSAFE_ARCHIVE_ENTRY', 'DIGEST_MISMATCH'],
      build: (d) => {
        const l = lastLayer();
        const evil = Buffer.from(l.data);
        evil[0] = evil[0]! ^ 0xff;
        return write(d, [...good, { ...l, data: evil }]);
      },
    },
    {
      name: 'duplicate airlock.json with different bytes', codes: UNSAFE,
      build: (d) => write(d, insertAfterFront([{ name: 'airlock.json', type: '0', data: Buffer.from('{"version":1,"artifacts":[],"blobs":[]}') }])),
    },
    {
      name: 'airlock.json claims huge sizes', codes: ['SIZE_MISMATCH', 'BUNDLE_UNREADABLE', 'BUNDLE_TAMPERED', 'BUNDLE_INCOMPLETE'],
      build: async (d) => write(d, await resigned((doc) => {
        const list = doc.blobs as { size: number }[];
        list[list.length - 1]!.size = 2 ** 52;
      })),
    },
    {
      name: 'airlock.json claims millions of blobs', codes: ['BUNDLE_UNREADABLE'],
      build: async (d) => {
        // 0.6 (1.2 under soak) million blob records (~66 or ~130 MB): over the format's limit; the reader must refuse
        // from the header's size, before it reads or parses it.
        const n = SOAK ? 1_200_000 : 600_000;
        const rec = (i: number): string => `{"digest":"sha256:${i.toString(16).padStart(64, '0')}","size":1,"mediaType":"application/octet-stream","location":"bundle"}`;
        const parts: string[] = ['{"version":1,"created":"2025-01-01T00:00:00Z","tool":{"name":"airlock","version":"0.1.0"},"bases":[],"artifacts":[],"blobs":['];
        for (let i = 0; i < n; i++) parts.push(i ? `,${rec(i)}` : rec(i));
        parts.push(']}');
        const raw = Buffer.from(parts.join(''));
        return write(d, [{ name: 'airlock.json', type: '0', data: raw }, ...good.slice(1)]);
      },
    },
    {
      name: 'zstd stream that expands without bound (airlock.json)', codes: ['BUNDLE_UNREADABLE'],
      build: async (d) => {
        const header = writeTar([{ name: 'airlock.json', type: '0', data: Buffer.alloc(0), declaredSize: 7 * GiB }], { trailer: false });
        const file = join(d, 'bundle.tar.zst');
        await writeFile(file, zstdFrame([{ raw: header.subarray(0, 512) }, { raw: Buffer.from('{"blobs":[') }, { rle: 0x20, count: 7 * GiB }]));
        return { file };
      },
    },
    {
      name: 'zstd stream that expands without bound (a layer)', codes: ['UNSAFE_ARCHIVE_ENTRY', 'SIZE_MISMATCH', 'BUNDLE_TAMPERED', 'BUNDLE_UNREADABLE'],
      build: async (d) => {
        const l = lastLayer();
        const front = writeTar(good.filter((e) => e !== l), { trailer: false });
        const header = writeTar([{ ...l, data: Buffer.alloc(0), declaredSize: 7 * GiB }], { trailer: false }).subarray(0, 512);
        const file = join(d, 'bundle.tar.zst');
        await writeFile(file, Buffer.concat([await zstdCompress(front), zstdFrame([{ raw: header }, { rle: 0, count: 7 * GiB }])]));
        return { file };
      },
    },
    {
      name: 'zstd window beyond the limit', codes: ['BUNDLE_UNREADABLE'],
      build: async (d) => {
        const file = join(d, 'bundle.tar.zst');
        await writeFile(file, zstdFrame([{ raw: goodTar.subarray(0, 64 * 1024) }], 31));
        return { file };
      },
    },
    {
      name: 'reordered entries: airlock.json after index.json', codes: ['BUNDLE_UNREADABLE', 'UNSAFE_ARCHIVE_ENTRY'],
      build: (d) => {
        const front = good.slice(0, idx('index.json') + 1);
        const rest = good.slice(idx('index.json') + 1);
        return write(d, [...front.slice(1), front[0]!, ...rest]);
      },
    },
    {
      name: 'reordered entries: a layer before the manifests', codes: ['UNSAFE_ARCHIVE_ENTRY', 'BUNDLE_UNREADABLE'], mayPass: true,
      build: (d) => {
        const l = lastLayer();
        const rest = good.filter((e) => e !== l);
        const at = rest.findIndex((e) => e.name === 'index.json') + 1;
        return write(d, [...rest.slice(0, at), l, ...rest.slice(at)]);
      },
    },
    {
      name: 'reordered entries: sequential (.tar.zst) with a layer first', codes: ['UNSAFE_ARCHIVE_ENTRY', 'BUNDLE_UNREADABLE'], mayPass: true,
      build: async (d) => {
        const l = lastLayer();
        const rest = good.filter((e) => e !== l);
        const at = rest.findIndex((e) => e.name === 'index.json') + 1;
        const file = join(d, 'bundle.tar.zst');
        await writeFile(file, await zstdCompress(writeTar([...rest.slice(0, at), l, ...rest.slice(at)])));
        return { file };
      },
    },
    { name: 'wrong format version', codes: ['BUNDLE_VERSION'], build: async (d) => write(d, await resigned((doc) => void (doc.version = 99))) },
    {
      name: 'signature over another bundle', codes: ['SIGNATURE_INVALID'],
      build: (d) => {
        const otherSig = readTar(otherTar).find((e) => e.name === 'airlock.sigstore.json')!;
        return write(d, replace('airlock.sigstore.json', otherSig));
      },
    },
    {
      name: 'signature by an untrusted key', codes: ['SIGNATURE_INVALID'],
      build: async (d) => ({ ...(await write(d, good)), keyArgs: ['--verify-key', world.otherPub] }),
    },
    { name: 'unsigned bundle', codes: ['SIGNATURE_MISSING'], build: (d) => write(d, good.filter((e) => e.name !== 'airlock.sigstore.json')) },
    { name: 'delta whose base is absent', codes: ['BASE_MISSING'], build: async () => ({ file: delta }) },
  ];

  /** Section boundaries of the good .tar, and a few cuts of the .tar.zst. */
  function truncationPoints(): { label: string; file: 'tar' | 'zst'; at: number; mayPass?: boolean }[] {
    // Inside and after each front entry, after the manifests and configs, inside and after the
    // first layer, inside the last layer, before the end-of-archive blocks; every entry boundary
    // under AIRLOCK_SOAK.
    const offs = entryOffsets(good);
    const front = idx('index.json');
    const pts: { label: string; file: 'tar' | 'zst'; at: number; mayPass?: boolean }[] = [
      { label: 'inside the airlock.json header', file: 'tar', at: 100 },
      { label: 'inside airlock.json', file: 'tar', at: 512 + 300 },
    ];
    for (let i = 0; i <= front; i++) pts.push({ label: `after ${good[i]!.name}`, file: 'tar', at: offs[i + 1]! });
    const doc = manifestJson();
    const layerNames = new Set(doc.blobs.slice(-Math.max(1, Math.floor(doc.blobs.length / 3))).map((b) => `blobs/sha256/${b.digest.slice(7)}`));
    const firstLayer = good.findIndex((e) => layerNames.has(e.name));
    pts.push({ label: 'after the metadata blobs', file: 'tar', at: offs[firstLayer]! });
    pts.push({ label: 'inside the first layer', file: 'tar', at: offs[firstLayer]! + 512 + 17 });
    pts.push({ label: 'after the first layer', file: 'tar', at: offs[firstLayer + 1]! });
    pts.push({ label: 'inside the last layer', file: 'tar', at: offs[good.length - 1]! + 600 });
    // Every entry whole, no end-of-archive blocks: the content is whole, so a clean import is fine too.
    pts.push({ label: 'before the end-of-archive blocks', file: 'tar', at: offs[good.length]!, mayPass: true });
    if (SOAK) for (let i = front + 1; i < good.length - 1; i++) pts.push({ label: `after entry ${i}`, file: 'tar', at: offs[i + 1]! });
    for (const frac of [0.05, 0.5, 0.97]) pts.push({ label: `.tar.zst at ${Math.round(frac * 100)}% of its bytes`, file: 'zst', at: Math.floor(goodZst.length * frac) });
    return pts;
  }

  // ------------------------------------------------------------------------------------------

  let caseNo = 0;
  /** Import `built` into a fresh registry and check everything the issue asks; returns the outcome. */
  async function runHostile(name: string, dir: string, built: Built, codes: readonly string[], mayPass: boolean): Promise<void> {
    const ws = await makeWorkspaceEnv(join(dir, 'ws'));
    await mkdir(join(dir, 'cwd'), { recursive: true });
    const target = await startRegistry();
    disposers.push(() => target.stop());
    const before = listTree(dir);
    const r: CliResult & { peakRssKiB?: number } = await runCli([
      'bundle', 'import', built.file, '--to', target.host, ...(built.keyArgs ?? ['--verify-key', world.pub]), '--dest-tls-verify=false',
      '--state-dir', join(ws.dir, 'state'), '--out-dir', join(ws.dir, 'out'), '--json',
    ], { env: ws.env, cwd: join(dir, 'cwd'), measureRss: true, timeoutMs: 90_000 });

    // 1. Exit and code.
    const passed = r.code === 0;
    const codeOk = passed ? mayPass : (r.code === 2 || r.code === 3) && r.errorCode !== undefined && codes.includes(r.errorCode);
    // 2. The target: nothing corrupt, no tag on content other than the clean import's.
    const check = await checkRegistry(target);
    const wrong = Object.entries(check.tags).filter(([k, d]) => cleanTags[k] !== d);
    const corrupt = check.problems.length > 0 || wrong.length > 0 || (passed && JSON.stringify(check.tags) !== JSON.stringify(cleanTags));
    recordOutcome({
      group: 'hostile', scenario: name.startsWith('truncated: ') ? 'truncation at every section boundary' : name, side: 'import', outcome: codeOk && !corrupt ? (passed ? 'correct' : 'clear-error') : 'failed', corrupt,
      detail: `${name.startsWith('truncated: ') ? `${name.slice(11)}: ` : ''}exit ${r.code} ${r.errorCode ?? ''}; peak RSS ${Math.round((r.peakRssKiB ?? 0) / 1024)} MiB`,
    });
    assert.ok(r.signal === null, `${name}: killed by the time guard: ${describeRun(r)}`);
    assert.ok(codeOk, `${name}: expected exit 2/3 with ${codes.join('|')}: ${describeRun(r)}`);
    if (!passed) {
      const doc = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('{\n  "version": 1,\n  "error"'))) as { error: { where?: string; hint?: string } };
      assert.ok(doc.error.where || doc.error.hint, `${name}: a precise message says where or what next: ${r.stdout}`);
      assert.match(r.stderr, /^error: /m);
    }
    assert.deepEqual(check.problems, [], name);
    assert.deepEqual(wrong, [], name);
    if (passed) assert.deepEqual(check.tags, cleanTags, name);
    // 3. Bounded memory.
    assert.ok(r.peakRssKiB !== undefined && r.peakRssKiB < RSS_LIMIT_KIB, `${name}: peak RSS ${r.peakRssKiB} KiB`);
    // 4. Nothing written outside the tool's state, out and temp directories.
    const added = listTree(dir).filter((p) => !before.includes(p) && !/^ws\/(state|out|tmp|cache)(\/|$)/.test(p));
    assert.deepEqual(added, [], `${name}: files written outside the tool's own space`);
    for (const p of [join('/tmp', TOKEN), join(dir, TOKEN), join(dir, 'bundle', TOKEN), join(world.ws.dir, TOKEN), join('/', TOKEN)]) {
      assert.ok(!existsSync(p), `${p} was written`);
    }
    assert.ok(!listTree(dir).some((p) => p.includes(TOKEN)), `${name}: a hostile entry name appears on disk`);
    await target.stop();
  }

  for (const c of cases) {
    it(c.name, async () => {
      const dir = join(world.ws.dir, `case-${++caseNo}`);
      await mkdir(join(dir, 'bundle'), { recursive: true });
      await runHostile(c.name, dir, await c.build(join(dir, 'bundle')), c.codes, Boolean(c.mayPass));
    });
  }

  it('truncation at every section boundary', async () => {
    const codes = ['BUNDLE_UNREADABLE', 'BUNDLE_INCOMPLETE', 'BUNDLE_TAMPERED', 'SIZE_MISMATCH', 'UNSAFE_ARCHIVE_ENTRY'];
    const pts = truncationPoints();
    assert.ok(pts.length >= 14);
    await forEachConcurrent(pts, 3, async (p) => {
      const dir = join(world.ws.dir, `case-${++caseNo}`);
      await mkdir(join(dir, 'bundle'), { recursive: true });
      const file = join(dir, 'bundle', p.file === 'tar' ? 'bundle.tar' : 'bundle.tar.zst');
      await writeFile(file, (p.file === 'tar' ? goodTar : goodZst).subarray(0, p.at));
      await runHostile(`truncated: ${p.label}`, dir, { file }, codes, Boolean(p.mayPass));
    });
  });
});

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(root, p));
      if (statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}
