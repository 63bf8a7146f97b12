import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLinkNext, parseWwwAuthenticate } from '../../../src/registry/index.js';
import { pickChallenge } from '../../../src/registry/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  const cases: [string, string, { scheme: string; params: Record<string, string> }[]][] = [
    ['Docker Hub bearer', 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }]],
    ['basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['scheme case and spaces', 'bearer  realm = "https://r/t" , service=svc', [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 'svc' } }]],
    ['two challenges in one header', 'Basic realm="a", Bearer realm="https://b/token",service="s"',
      [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'https://b/token', service: 's' } }]],
    ['scope with several actions and an error param', 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull,push",error="insufficient_scope"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:o/r:pull,push', error: 'insufficient_scope' } }]],
    ['escaped quote', 'Basic realm="say \\"hi\\""', [{ scheme: 'basic', params: { realm: 'say "hi"' } }]],
    ['empty', '', []],
  ];
  for (const [name, header, want] of cases) {
    it(name, () => {
      assert.deepEqual(parseWwwAuthenticate(header).map((c) => ({ scheme: c.scheme, params: { ...c.params } })), want);
    });
  }
  it('prefers Bearer over Basic', () => {
    assert.equal(pickChallenge(parseWwwAuthenticate('Basic realm="a", Bearer realm="b"'))?.scheme, 'bearer');
  });
});

describe('parseLinkNext', () => {
  const base = 'https://r.example/v2/app/tags/list';
  it('resolves a relative next link', () => {
    assert.equal(parseLinkNext('</v2/app/tags/list?last=b&n=2>; rel="next"', base), 'https://r.example/v2/app/tags/list?last=b&n=2');
  });
  it('handles an absolute link, unquoted rel, and other relations', () => {
    assert.equal(parseLinkNext('<https://x.example/prev>; rel="prev", <https://x.example/next?a=1,2>; rel=next', base), 'https://x.example/next?a=1,2');
  });
  it('returns undefined without a next link', () => {
    assert.equal(parseLinkNext(undefined, base), undefined);
    assert.equal(parseLinkNext('<https://x/prev>; rel="prev"', base), undefined);
    assert.equal(parseLinkNext('garbage', base), undefined);
  });
});
