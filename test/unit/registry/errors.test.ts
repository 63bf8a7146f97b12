import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryErrorFrom, RegistryError, transportErrorFrom } from '../../../src/registry/index.js';

const body = (code: string): Buffer => Buffer.from(JSON.stringify({ errors: [{ code, message: code.toLowerCase(), detail: { x: 1 } }] }));

describe('registryErrorFrom', () => {
  const base = { method: 'GET', url: 'https://user:pw@r.example/v2/app/manifests/v1?X-Amz-Signature=abc&token=t0k', where: 'r.example/app' };
  const table: [number, string | undefined, string, boolean][] = [
    [401, 'UNAUTHORIZED', 'AUTH', false],
    [403, 'DENIED', 'AUTH', false],
    [404, 'MANIFEST_UNKNOWN', 'NOT_FOUND', false],
    [404, 'NAME_UNKNOWN', 'NOT_FOUND', false],
    [404, 'BLOB_UNKNOWN', 'NOT_FOUND', false],
    [429, 'TOOMANYREQUESTS', 'REGISTRY', true],
    [503, undefined, 'REGISTRY', true],
    [400, 'MANIFEST_INVALID', 'REGISTRY', false],
    [400, 'MANIFEST_BLOB_UNKNOWN', 'REGISTRY', false],
  ];
  for (const [status, code, want, retryable] of table) {
    it(`${status} ${code ?? ''} → ${want}`, () => {
      const e = registryErrorFrom({ ...base, status, body: code ? body(code) : undefined });
      assert.ok(e instanceof RegistryError);
      assert.equal(e.code, want);
      assert.equal(e.retryable, retryable);
      if (code) assert.equal(e.errors[0]?.code, code);
      assert.ok(e.hint && e.hint.length > 0);
    });
  }
  it('carries the registry and the repository as fields, when the request names them', () => {
    const e = registryErrorFrom({ ...base, status: 404, body: body('NAME_UNKNOWN'), registry: '127.0.0.1:5000', repository: 'team/app' });
    assert.deepEqual([e.registry, e.repository], ['127.0.0.1:5000', 'team/app']);
    const wide = registryErrorFrom({ ...base, where: 'r.example', status: 401, registry: 'r.example' });
    assert.deepEqual([wide.registry, wide.repository], ['r.example', undefined]);
    const t = transportErrorFrom(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), {
      method: 'GET', url: 'http://r.example/v2/', where: 'r.example/team/app', registry: 'r.example', repository: 'team/app',
      https: false, hasClientCert: false, neverConnected: true, attempts: 1,
    });
    assert.deepEqual([t.registry, t.repository], ['r.example', 'team/app']);
  });

  it('maps DIGEST_INVALID on a push to DIGEST_MISMATCH (exit 3)', () => {
    const e = registryErrorFrom({ ...base, method: 'PUT', status: 400, body: body('DIGEST_INVALID'), push: true });
    assert.equal(e.code, 'DIGEST_MISMATCH');
    assert.equal(e.exitCode, 3);
  });
  it('redacts credentials and signed query parameters from the URL and never prints them', () => {
    const e = registryErrorFrom({ ...base, status: 401, hadCredentials: true, credentialsSource: '/home/u/.docker/config.json', side: 'dest' });
    assert.ok(!e.url.includes('pw') && !e.url.includes('abc') && !e.url.includes('t0k'));
    assert.ok(!`${e.message} ${e.hint}`.includes('pw'));
    assert.ok(e.hint?.includes('--dest-creds'));
    assert.ok(e.message.includes('r.example/app'));
  });
  it('tolerates bodies that are not distribution errors', () => {
    const e = registryErrorFrom({ ...base, status: 500, body: Buffer.from('<html>oops</html>') });
    assert.deepEqual(e.errors, []);
  });
});

describe('transportErrorFrom', () => {
  const ctx = { method: 'GET', url: 'https://r.example/v2/', where: 'r.example', https: true, hasClientCert: false, neverConnected: true, attempts: 5, side: 'src' as const };
  const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });
  it('certificate problems are TLS with the cert-dir hint', () => {
    const e = transportErrorFrom(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), ctx);
    assert.equal(e.code, 'TLS');
    assert.ok(e.hint?.includes('--src-cert-dir'));
    assert.equal(e.retryable, false);
  });
  it('a socket closed during the first TLS contact points at a missing client certificate', () => {
    const e = transportErrorFrom(err('UND_ERR_SOCKET', 'other side closed'), ctx);
    assert.equal(e.code, 'TLS');
    assert.ok(e.hint?.includes('client'));
    assert.equal(transportErrorFrom(err('UND_ERR_SOCKET', 'other side closed'), { ...ctx, neverConnected: false }).code, 'NETWORK');
  });
  it('refused, timed out and reset connections are NETWORK', () => {
    for (const c of ['ECONNREFUSED', 'UND_ERR_HEADERS_TIMEOUT', 'ECONNRESET']) {
      const e = transportErrorFrom(err(c), { ...ctx, https: false });
      assert.equal(e.code, 'NETWORK', c);
    }
  });
});
