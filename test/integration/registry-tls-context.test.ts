/**
 * Issue 24 (item 5): `--dest-cert-dir` imports were several times slower than without. The cause:
 * the certs.d CAs (and client pair) went to undici as `ca`/`cert`/`key` connect options, so Node
 * built a new TLS context for every connection, parsing the ~140 system roots and the site CA each
 * time. Now one context is made per registry client and every connection shares it. Judged against
 * a real mTLS Distribution registry: node:tls's own connect and createSecureContext are counted.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createRegistryClient } from '../../src/registry/index.js';
import { startRegistry, type TestRegistry } from '../../fixtures/harness/registry.js';

describe('TLS context per registry client, not per connection (--dest-cert-dir)', () => {
  let reg: TestRegistry;

  before(async () => {
    reg = await startRegistry({ mtls: true });
  });

  after(async () => {
    await reg?.stop();
  });

  it('opens many connections with one context made from the certs.d directory (CA and client certificate)', async () => {
    const connect = tls.connect;
    const create = tls.createSecureContext;
    const contexts = new Set<unknown>();
    let connections = 0;
    let created = 0;
    let caOptions = 0;
    (tls as { connect: unknown }).connect = (...args: unknown[]) => {
      const o = args.find((a): a is tls.ConnectionOptions => typeof a === 'object' && a !== null);
      connections++;
      contexts.add(o?.secureContext);
      if (o?.ca !== undefined) caOptions++;
      return (connect as (...a: unknown[]) => tls.TLSSocket)(...args);
    };
    (tls as { createSecureContext: unknown }).createSecureContext = (...args: Parameters<typeof create>) => {
      created++;
      return create(...args);
    };
    const client = createRegistryClient(reg.host, { tls: 'verify', certDir: reg.ca!.certDir }, { connections: 8 });
    try {
      // 8 at a time, several rounds: the pool opens up to 8 connections; a fresh client per round
      // would hide the point, so one client, many requests at once.
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 8 }, () => client.ping()));
        await Promise.all(Array.from({ length: 8 }, (_, i) => client.repository(`tls/r${i}`).tags()));
      }
    } finally {
      (tls as { connect: unknown }).connect = connect;
      (tls as { createSecureContext: unknown }).createSecureContext = create;
      await client.close();
    }
    assert.ok(connections >= 2, `only ${connections} TLS connection(s): the test shows nothing`);
    assert.equal(created, 0, `${created} TLS contexts built while connecting (${connections} connections)`);
    assert.equal(caOptions, 0, 'CA certificates passed per connection');
    assert.equal(contexts.size, 1, `${contexts.size} different contexts over ${connections} connections`);
    assert.notEqual([...contexts][0], undefined, 'no shared context given');
  });
});
