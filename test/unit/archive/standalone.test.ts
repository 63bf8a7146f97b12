/**
 * The modules the standalone builds put in place of others (scripts/standalone-build.ts) must
 * export what those export: checked by the compiler here (a missing or changed export fails
 * `npm run build`), and at run time for the two that load in a plain node process.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import type * as WorkerStart from '../../../src/archive/worker-start.js';
import type * as WorkerStartSea from '../../../src/archive/worker-start.sea.js';
import type * as ZstdBindingSea from '../../../src/archive/zstd-binding.sea.js';
import type * as ZstdBindingPackage from '../../../src/archive/zstd-binding.package.js';
import type * as UndiciAgent from '../../../src/registry/undici-agent.js';
import type * as UndiciAgentBundled from '../../../src/registry/undici-agent.bundled.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checks: {
  workerStart: Same<typeof WorkerStart.startWorker, typeof WorkerStartSea.startWorker>;
  zstdSea: Same<typeof ZstdBinding, typeof ZstdBindingSea.default>;
  zstdPackage: Same<typeof ZstdBinding, typeof ZstdBindingPackage.default>;
  undici: Same<typeof UndiciAgent.Agent, typeof UndiciAgentBundled.Agent>;
} = { workerStart: true, zstdSea: true, zstdPackage: true, undici: true };

describe('standalone builds: the modules put in place of others', () => {
  it('export the same names with the same types (checked when the tests compile)', () => {
    assert.deepEqual(Object.values(checks), [true, true, true, true]);
  });

  it('load in a plain node process without touching the single executable\'s assets until used', async () => {
    const sea = await import('../../../src/archive/worker-start.sea.js');
    assert.equal(typeof sea.startWorker, 'function');
    const binding = await import('../../../src/archive/zstd-binding.sea.js');
    assert.equal(typeof binding.default, 'object');
    assert.equal(binding.ZSTD_ADDON_GLOBAL, 'airlock.zstd-addon');
  });
});
