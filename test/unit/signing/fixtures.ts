import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root, whether the tests run from test/ or from dist/test/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'fixtures', 'signing'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('fixtures/signing not found above the test file');
    dir = up;
  }
  return dir;
}

/** A real public-good keyless bundle (v0.3, Fulcio certificate, Rekor entry, TSA timestamp). */
export const KEYLESS = {
  dir: () => join(repoRoot(), 'fixtures', 'signing', 'keyless'),
  bundle: () => join(KEYLESS.dir(), 'bundle.sigstore.json'),
  artifact: () => join(KEYLESS.dir(), 'artifact.txt'),
  trustedRoot: () => join(KEYLESS.dir(), 'trusted_root.json'),
  identity: 'aryadeeptade@gmail.com',
  issuer: 'https://github.com/login/oauth',
};

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-signing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A plausible airlock.json: the signature code treats it as opaque bytes. */
export function airlockJson(seed = 'a'): Buffer {
  return Buffer.from(
    `${JSON.stringify({ version: 1, created: '2025-01-01T00:00:00Z', tool: { name: 'airlock', version: '0.1.0' }, bases: [], artifacts: [{ seed }], blobs: [] }, null, 2)}\n`,
  );
}
