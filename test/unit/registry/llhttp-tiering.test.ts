import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../../src/registry/llhttp-tiering.js', import.meta.url));

// Each check runs in a node of its own: V8's flags are the whole process's.
function run(script: string, ...args: string[]): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8' }).trim();
}

describe('compileLlhttp', () => {
  it('leaves V8 with the flags it had: the code-cache tag is the same after the compile', () => {
    const out = run(`
      import { cachedDataVersionTag } from 'node:v8';
      const { compileLlhttp } = await import(${JSON.stringify(MODULE)});
      const before = cachedDataVersionTag();
      const mod = compileLlhttp(() => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
      console.log(JSON.stringify({ before, after: cachedDataVersionTag(), module: mod instanceof WebAssembly.Module }));
    `);
    const { before, after, module } = JSON.parse(out) as { before: number; after: number; module: boolean };
    assert.equal(module, true);
    assert.equal(after, before);
  });

  it('a code cache made after the compile is accepted by a fresh process (src/cli/launch.ts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-llhttp-'));
    try {
      const cache = join(dir, 'cache.bin');
      const source = 'function f(a) { return a + 1; } f(1);';
      run(`
        import { Script } from 'node:vm';
        import { writeFileSync } from 'node:fs';
        const { compileLlhttp } = await import(${JSON.stringify(MODULE)});
        const script = new Script(${JSON.stringify(source)});
        compileLlhttp(() => new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
        script.runInThisContext();
        writeFileSync(process.argv[1], script.createCachedData());
      `, cache);
      const rejected = run(`
        import { Script } from 'node:vm';
        import { readFileSync } from 'node:fs';
        console.log(new Script(${JSON.stringify(source)}, { cachedData: readFileSync(process.argv[1]) }).cachedDataRejected);
      `, cache);
      assert.equal(rejected, 'false');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
