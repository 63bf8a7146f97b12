import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, loadEnvHttpProxyAgent } from '../../../src/registry/undici-agent.js';

describe('undici Agent loaded alone (startup cost)', () => {
  it('has request() before undici\'s index is loaded, the rest with the proxy agent, and is the very class undici exports', async () => {
    const a = new Agent();
    assert.equal(typeof a.request, 'function');
    // request() alone at start-up: stream, pipeline, upgrade and connect are not loaded.
    assert.equal(typeof a.stream, 'undefined');
    // connect() (the proxy agent's CONNECT tunnels) comes with the proxy agent.
    const EnvProxy = loadEnvHttpProxyAgent();
    assert.equal(typeof a.connect, 'function');
    assert.equal(typeof a.stream, 'function');
    await a.close();
    const whole = await import('undici');
    assert.equal(Agent, whole.Agent);
    assert.equal(EnvProxy, whole.EnvHttpProxyAgent);
  });
});
