import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkCarriedTool, discardTool, publishTool, stageTool, type AirlockManifest } from '../../../src/bundle/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';

const manifestWith = (executable: AirlockManifest['tool']['executable']): AirlockManifest => ({
  version: 1, created: '2026-01-01T00:00:00Z', tool: { name: 'airlock', version: '0.1.0', ...(executable ? { executable } : {}) },
  bases: [], artifacts: [], blobs: [],
});

describe('the executable carried beside a bundle (export --include-tool)', () => {
  it('is copied beside the output under a temporary name, hashed, and published with its line in checksums.txt', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tool-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const bytes = Buffer.alloc(3 << 20, 7);
    await writeFile(join(dir, 'running-exe'), bytes);
    await mkdir(join(dir, 'out'));
    const output = join(dir, 'out', 'site.tar.zst');
    const staged = await stageTool({ path: join(dir, 'running-exe'), file: 'airlock-0.1.0-linux-x64', platform: 'linux-x64', version: '0.1.0', commit: 'c' }, output);
    const hex = createHash('sha256').update(bytes).digest('hex');
    assert.deepEqual(staged.record, { file: 'airlock-0.1.0-linux-x64', size: bytes.length, digest: `sha256:${hex}`, platform: 'linux-x64', version: '0.1.0', commit: 'c' });
    // Not under its name until published; a killed export leaves only a temporary (removeStaleTemporaries).
    assert.deepEqual((await readdir(join(dir, 'out'))).filter((n) => !n.startsWith('.')), []);
    await writeFile(join(dir, 'out', 'checksums.txt'), `${'0'.repeat(64)}  site.tar.zst\n`);
    await publishTool(staged, join(dir, 'out', 'checksums.txt'));
    assert.equal((await stat(staged.final)).mode & 0o777, 0o755);
    assert.equal(await readFile(join(dir, 'out', 'checksums.txt'), 'utf8'), `${'0'.repeat(64)}  site.tar.zst\n${hex}  airlock-0.1.0-linux-x64\n`);
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['airlock-0.1.0-linux-x64', 'checksums.txt']);

    const m = manifestWith(staged.record);
    assert.equal((await checkCarriedTool(m, output))?.status, 'verified');
    assert.equal((await checkCarriedTool(m, output, { hash: false }))?.status, 'present');
    assert.equal(await checkCarriedTool(manifestWith(undefined), output), undefined);
  });

  it('a discarded staging leaves nothing behind', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tool-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'exe'), 'x');
    const staged = await stageTool({ path: join(dir, 'exe'), file: 'airlock-0.1.0-linux-x64', platform: 'linux-x64', version: '0.1.0' }, join(dir, 'b.tar'));
    await discardTool(staged);
    assert.deepEqual(await readdir(dir), ['exe']);
  });

  it('verify and import refuse a file of another digest, size or type (exit 3); inspect reports it; absent is reported, not refused', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tool-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const good = Buffer.from('the executable');
    const record = { file: 'airlock-0.1.0-linux-x64', size: good.length, digest: `sha256:${createHash('sha256').update(good).digest('hex')}` as `sha256:${string}`, platform: 'linux-x64', version: '0.1.0' };
    const m = manifestWith(record as AirlockManifest['tool']['executable']);
    const bundle = join(dir, 'site.tar');
    const exe = join(dir, record.file);

    assert.equal((await checkCarriedTool(m, bundle))?.status, 'absent');
    await writeFile(exe, 'the executablE');
    await assertRejectsCode(checkCarriedTool(m, bundle), 'DIGEST_MISMATCH');
    assert.equal((await checkCarriedTool(m, bundle, { hash: false }))?.status, 'present');
    await writeFile(exe, 'shorter');
    await assertRejectsCode(checkCarriedTool(m, bundle), 'SIZE_MISMATCH');
    assert.equal((await checkCarriedTool(m, bundle, { hash: false }))?.status, 'different');
    await rm(exe);
    await mkdir(exe);
    await assertRejectsCode(checkCarriedTool(m, bundle), 'BUNDLE_TAMPERED');
    // A directory bundle: the executable is beside the directory, not inside it.
    await rm(exe, { recursive: true });
    await writeFile(exe, good);
    assert.equal((await checkCarriedTool(m, join(dir, 'site-dir')))?.status, 'verified');
  });
});
