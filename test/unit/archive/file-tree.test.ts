import assert from 'node:assert/strict';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openDirTree, openTarTree, removeStaleUnpacked, resolveLinkTarget } from '../../../src/archive/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';
import { makeTar } from './tar-build.js';
import { tempDir } from './temp.js';

async function readAll(r: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('openTarTree', () => {
  it('reads regular files by name and resolves in-archive links the way legacy docker save uses them', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar');
    await writeFile(file, makeTar([
      { path: 'abc.tar', body: Buffer.from('layer bytes') },
      { path: 'id1/', type: 'SymbolicLink', linkpath: 'x' }, // never read: harmless
      { path: 'id1/layer.tar', type: 'SymbolicLink', linkpath: '../abc.tar' },
      { path: 'id2/layer.tar', type: 'SymbolicLink', linkpath: '../id1/layer.tar' },
      { path: 'hard.tar', type: 'Link', linkpath: 'abc.tar' },
      { path: 'manifest.json', body: Buffer.from('[]') },
    ]));
    const tree = await openTarTree(file);
    assert.equal(tree.compression, 'none');
    assert.equal(await tree.size('manifest.json'), 2);
    assert.equal(await tree.size('nope'), undefined);
    for (const name of ['abc.tar', 'id1/layer.tar', 'id2/layer.tar', 'hard.tar', './id1//layer.tar']) {
      assert.equal((await readAll(await tree.open(name))).toString(), 'layer bytes', name);
      assert.equal(await tree.size(name), 11);
    }
    assert.deepEqual(await tree.head('abc.tar', 5), Buffer.from('layer'));
    assert.equal((await tree.read('manifest.json', 10)).toString(), '[]');
    await assertRejectsCode(tree.read('abc.tar', 4), 'MANIFEST_INVALID');
    await tree.close();
  });

  it('refuses a link that leaves the archive, is absolute, or loops, when it is read', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar');
    await writeFile(file, makeTar([
      { path: 'a', body: Buffer.from('a') },
      { path: 'up', type: 'SymbolicLink', linkpath: '../etc/passwd' },
      { path: 'deep/up', type: 'SymbolicLink', linkpath: '../../etc/passwd' },
      { path: 'abs', type: 'SymbolicLink', linkpath: '/etc/passwd' },
      { path: 'loop1', type: 'SymbolicLink', linkpath: 'loop2' },
      { path: 'loop2', type: 'SymbolicLink', linkpath: 'loop1' },
      { path: 'dangling', type: 'SymbolicLink', linkpath: 'missing' },
    ]));
    const tree = await openTarTree(file);
    for (const name of ['up', 'deep/up', 'abs', 'loop1']) await assertRejectsCode(tree.open(name), 'UNSAFE_ARCHIVE_ENTRY');
    await assertRejectsCode(tree.open('dangling'), 'NOT_FOUND');
    await assertRejectsCode(tree.size('../a'), 'UNSAFE_ARCHIVE_ENTRY');
    await tree.close();
  });

  it('refuses devices and FIFOs while indexing', async (t) => {
    const dir = await tempDir(t);
    for (const type of ['FIFO', 'CharacterDevice'] as const) {
      const file = join(dir, `${type}.tar`);
      await writeFile(file, makeTar([{ path: 'a', body: Buffer.from('a') }, { path: 'dev', type }]));
      await assertRejectsCode(openTarTree(file), 'UNSAFE_ARCHIVE_ENTRY');
    }
  });

  it('reads a tar gzip-compressed as a whole (docker save | gzip) through a copy it removes on close', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'x.tar.gz');
    await writeFile(file, gzipSync(makeTar([{ path: 'manifest.json', body: Buffer.from('[1]') }])));
    const temp = join(dir, 'unpacked');
    const tree = await openTarTree(file, { tempDir: temp });
    assert.equal(tree.compression, 'gzip');
    assert.equal((await tree.read('manifest.json', 100)).toString(), '[1]');
    assert.equal((await readdir(temp)).length, 1);
    await tree.close();
    assert.deepEqual(await readdir(temp), []);
  });

  it('calls garbage and damaged gzip unreadable, and leaves no copy behind', async (t) => {
    const dir = await tempDir(t);
    const temp = join(dir, 'unpacked');
    await writeFile(join(dir, 'garbage.tar'), Buffer.alloc(2048, 7));
    await assertRejectsCode(openTarTree(join(dir, 'garbage.tar'), { tempDir: temp }), 'BUNDLE_UNREADABLE');
    const gz = gzipSync(makeTar([{ path: 'a', body: Buffer.alloc(100_000, 1) }]));
    await writeFile(join(dir, 'cut.tar.gz'), gz.subarray(0, gz.length - 40));
    await assertRejectsCode(openTarTree(join(dir, 'cut.tar.gz'), { tempDir: temp }), 'BUNDLE_UNREADABLE');
    assert.deepEqual(await readdir(temp), []);
  });

  it('removeStaleUnpacked removes copies of processes that are gone and keeps its own', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'unpacked-999999999-a.tar'), 'x');
    await writeFile(join(dir, `unpacked-${process.pid}-b.tar`), 'x');
    await writeFile(join(dir, 'other'), 'x');
    assert.equal(await removeStaleUnpacked(dir), 1);
    assert.deepEqual((await readdir(dir)).sort(), ['other', `unpacked-${process.pid}-b.tar`]);
  });
});

describe('resolveLinkTarget', () => {
  it('resolves symlinks against their directory and hard links against the root', () => {
    assert.equal(resolveLinkTarget('a/b/l', '../c', false, 'x'), 'a/c');
    assert.equal(resolveLinkTarget('a/b/l', './c/./d', false, 'x'), 'a/b/c/d');
    assert.equal(resolveLinkTarget('a/b/l', 'c', true, 'x'), 'c');
    assertThrowsCode(() => resolveLinkTarget('l', '..', false, 'x'), 'UNSAFE_ARCHIVE_ENTRY');
    assertThrowsCode(() => resolveLinkTarget('a/l', '..', false, 'x'), 'UNSAFE_ARCHIVE_ENTRY');
    assertThrowsCode(() => resolveLinkTarget('a/l', 'C:\\x', false, 'x'), 'UNSAFE_ARCHIVE_ENTRY');
  });
});

describe('openDirTree', () => {
  it('reads regular files through real directories and refuses symlinks anywhere inside', async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'layout');
    await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(root, 'index.json'), '{}');
    await writeFile(join(root, 'blobs', 'sha256', 'aa'), 'blob');
    await writeFile(join(dir, 'secret'), 'secret');
    await symlink(join(dir, 'secret'), join(root, 'blobs', 'sha256', 'bb'));
    await symlink(join(root, 'blobs'), join(root, 'linked'));
    // The layout directory itself may be reached through a link.
    await symlink(root, join(dir, 'via-link'));
    const tree = await openDirTree(join(dir, 'via-link'));
    assert.equal(await tree.size('index.json'), 2);
    assert.equal((await readAll(await tree.open('blobs/sha256/aa'))).toString(), 'blob');
    assert.equal((await tree.read('index.json', 10)).toString(), '{}');
    assert.equal(await tree.size('blobs/sha256/cc'), undefined);
    await assertRejectsCode(tree.open('blobs/sha256/bb'), 'UNSAFE_ARCHIVE_ENTRY');
    await assertRejectsCode(tree.open('linked/sha256/aa'), 'UNSAFE_ARCHIVE_ENTRY');
    await assertRejectsCode(tree.open('../secret'), 'UNSAFE_ARCHIVE_ENTRY');
    await assertRejectsCode(tree.open('blobs'), 'UNSAFE_ARCHIVE_ENTRY');
  });
});
