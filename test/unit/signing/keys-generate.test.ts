import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runKeysGenerate } from '../../../src/cli/commands/impl/keys-generate.js';
import type { CliContext } from '../../../src/cli/context.js';
import { NOOP_LOGGER } from '../../../src/log.js';
import { loadPrivateKey, loadPublicKey } from '../../../src/signing/index.js';
import { assertRejectsCode } from '../../helpers/assert.js';
import { tempDir } from './fixtures.js';

function context(json: boolean): { ctx: CliContext; out: string[]; docs: unknown[] } {
  const out: string[] = [];
  const docs: unknown[] = [];
  const ctx: CliContext = {
    json,
    quiet: false,
    verbose: false,
    interactive: false,
    logger: NOOP_LOGGER,
    signal: new AbortController().signal,
    out: (text) => void out.push(text),
    outJson: (doc) => void docs.push(doc),
    status: () => {},
  };
  return { ctx, out, docs };
}

async function withEnv<T>(name: string, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const old = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  }
}

describe('keys generate', () => {
  it('writes PREFIX.key and PREFIX.pub and prints paths and fingerprint', async (t) => {
    const dir = await tempDir(t);
    const { ctx, out } = context(false);
    await runKeysGenerate({ out: join(dir, 'site'), type: 'ecdsa-p256', encrypt: false, force: false }, ctx);
    const pub = await loadPublicKey(join(dir, 'site.pub'));
    assert.equal((await stat(join(dir, 'site.key'))).mode & 0o777, 0o600);
    const text = out.join('\n');
    assert.ok(text.includes(join(dir, 'site.key')));
    assert.ok(text.includes(join(dir, 'site.pub')));
    assert.ok(text.includes(pub.fingerprint));
  });

  it('emits a versioned JSON document under --json', async (t) => {
    const dir = await tempDir(t);
    const { ctx, out, docs } = context(true);
    await runKeysGenerate({ out: join(dir, 'k'), type: 'ed25519', encrypt: false, force: false }, ctx);
    assert.equal(out.length, 0);
    const pub = await loadPublicKey(join(dir, 'k.pub'));
    assert.deepEqual(docs, [
      { version: 1, key: join(dir, 'k.key'), pub: join(dir, 'k.pub'), type: 'ed25519', encrypted: false, fingerprint: pub.fingerprint },
    ]);
  });

  it('encrypts with AIRLOCK_KEY_PASSWORD', async (t) => {
    const dir = await tempDir(t);
    await withEnv('AIRLOCK_KEY_PASSWORD', 'pw', () => runKeysGenerate({ out: join(dir, 'k'), encrypt: true }, context(false).ctx));
    await assertRejectsCode(loadPrivateKey(join(dir, 'k.key'), async () => undefined), 'KEY_INVALID');
    const key = await loadPrivateKey(join(dir, 'k.key'), async () => 'pw');
    assert.equal(key.type, 'ecdsa-p256');
  });

  it('refuses --encrypt with no passphrase available, an empty one, and an existing key', async (t) => {
    const dir = await tempDir(t);
    // the test runner's stdin is not a terminal, so there is no prompt to fall back to
    await withEnv('AIRLOCK_KEY_PASSWORD', undefined, () => assertRejectsCode(runKeysGenerate({ out: join(dir, 'a'), encrypt: true }, context(false).ctx), 'USAGE'));
    await withEnv('AIRLOCK_KEY_PASSWORD', '', () => assertRejectsCode(runKeysGenerate({ out: join(dir, 'b'), encrypt: true }, context(false).ctx), 'USAGE'));
    await runKeysGenerate({ out: join(dir, 'c') }, context(false).ctx);
    await assertRejectsCode(runKeysGenerate({ out: join(dir, 'c') }, context(false).ctx), 'USAGE');
    await runKeysGenerate({ out: join(dir, 'c'), force: true }, context(false).ctx);
    await assertRejectsCode(runKeysGenerate({ out: join(dir, 'd'), type: 'ecdsa-p384' }, context(false).ctx), 'USAGE');
  });
});
