import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, loadEnvHttpProxyAgent } from '../../../src/registry/undici-agent.js';

describe('undici Agent loaded alone (startup cost)', () => {
  it('has the request API before undici\'s index is loaded, and is the very class undici exports', async () => {
    const a = new Agent();
    assert.equal(typeof a.request, 'function');
    assert.equal(typeof a.stream, 'function');
    await a.close();
    const whole = await import('undici');
    assert.equal(Agent, whole.Agent);
    assert.equal(loadEnvHttpProxyAgent(), whole.EnvHttpProxyAgent);
  });
});
