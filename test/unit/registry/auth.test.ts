import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Authenticator, scopeKey, type TokenRequest } from '../../../src/registry/auth.js';

function setup(creds = true) {
  let now = 1_000_000;
  const calls: TokenRequest[] = [];
  let n = 0;
  const auth = new Authenticator(
    async () => (creds ? { username: 'u', password: 'p', source: 'test' } : undefined),
    async (req) => {
      calls.push(req);
      return { token: `t${++n}`, expiresIn: 60 };
    },
    () => now,
  );
  return { auth, calls, advance: (ms: number) => (now += ms) };
}

const CHALLENGE = 'Bearer realm="https://auth.example/token",service="reg"';
const pull = ['repository:app:pull'];

describe('Authenticator', () => {
  it('learns Bearer from a challenge, fetches one token per scope set and caches it', async () => {
    const { auth, calls } = setup();
    assert.equal(await auth.authorization(pull), undefined);
    assert.equal(await auth.onChallenge(CHALLENGE, pull, undefined), true);
    assert.equal(await auth.authorization(pull), 'Bearer t1');
    assert.equal(await auth.authorization(pull), 'Bearer t1');
    assert.equal(await auth.authorization(['repository:app:pull,push']), 'Bearer t2');
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.service, 'reg');
    assert.deepEqual(calls[0]!.scopes, pull);
  });
  it('refreshes an expired token and one the registry refused', async () => {
    const { auth, calls, advance } = setup();
    await auth.onChallenge(CHALLENGE, pull, undefined);
    advance(61_000);
    assert.equal(await auth.authorization(pull), 'Bearer t2');
    assert.equal(await auth.onChallenge(CHALLENGE, pull, 'Bearer t2'), true);
    assert.equal(await auth.authorization(pull), 'Bearer t3');
    assert.equal(calls.length, 3);
  });
  it('concurrent requests share one token fetch', async () => {
    const { auth, calls } = setup();
    await Promise.all([1, 2, 3].map(() => auth.onChallenge(CHALLENGE, pull, undefined)));
    assert.equal(calls.length, 1);
  });
  it('Basic: retries once with credentials, gives up without them or when they were refused', async () => {
    const withCreds = setup(true).auth;
    assert.equal(await withCreds.onChallenge('Basic realm="r"', pull, undefined), true);
    const header = await withCreds.authorization(pull);
    assert.equal(header, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(await withCreds.onChallenge('Basic realm="r"', pull, header), false);
    assert.equal(await setup(false).auth.onChallenge('Basic realm="r"', pull, undefined), false);
  });
  it('scope keys ignore order and duplicates', () => {
    assert.equal(scopeKey(['b', 'a', 'b']), 'a b');
  });
});
