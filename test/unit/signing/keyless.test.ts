import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertAmbientIdentityToken, IDENTITY_TOKEN_ENV, readIdentityToken } from '../../../src/signing/index.js';
import { assertRejectsCode, assertThrowsCode } from '../../helpers/assert.js';

const JWT = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhQGIuYyJ9.';

describe('keyless signing inputs', () => {
  it('reads an identity token file (trimmed) and refuses a missing file or one that holds no JWT', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-token-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'good'), `${JWT}\n`);
    await writeFile(join(dir, 'bad'), 'not a token\n');
    assert.equal(await readIdentityToken(join(dir, 'good')), JWT);
    await assertRejectsCode(readIdentityToken(join(dir, 'bad')), 'USAGE');
    await assertRejectsCode(readIdentityToken(join(dir, 'absent')), 'USAGE');
  });

  it('finds an ambient token in SIGSTORE_ID_TOKEN or a GitHub Actions job, and says what to do without one', () => {
    const names = [IDENTITY_TOKEN_ENV, 'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
    const saved = names.map((n) => process.env[n]);
    try {
      for (const n of names) delete process.env[n];
      const err = assertThrowsCode(() => assertAmbientIdentityToken(), 'USAGE');
      assert.match(err.hint ?? '', /--identity-token/);
      process.env[IDENTITY_TOKEN_ENV] = JWT;
      assertAmbientIdentityToken();
      delete process.env[IDENTITY_TOKEN_ENV];
      process.env['ACTIONS_ID_TOKEN_REQUEST_URL'] = 'https://example.invalid/token';
      assertThrowsCode(() => assertAmbientIdentityToken(), 'USAGE');
      process.env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'] = 'x';
      assertAmbientIdentityToken();
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n];
        else process.env[n] = saved[i];
      });
    }
  });
});
