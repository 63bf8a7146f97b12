import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { Agent } from '../../../src/registry/undici-agent.js';
import { POOL_CHUNK, releasingChunks, takeChunk } from '../../../src/util/index.js';

const KIB = 1024;

/**
 * A readable that pushes `chunks` one per _read, then ends, or fails with `failWith` a little
 * later (a timer: after the last chunk has been yielded, not while it is still queued).
 */
function readableOf(chunks: readonly Buffer[], failWith?: Error): Readable {
  let i = 0;
  return new Readable({
    highWaterMark: 1,
    read() {
      if (i < chunks.length) this.push(chunks[i++]);
      else if (failWith) setTimeout(() => this.destroy(failWith), 5);
      else this.push(null);
    },
  });
}

/**
 * Empty the pool's free list (at most 16 buffers) so that what comes out of takeChunk() next is
 * exactly what was handed back since. The buffers taken are kept out (referenced) until `t` ends.
 */
function drainPool(t: TestContext): void {
  const held = Array.from({ length: 16 }, () => takeChunk());
  t.after(() => void held.length);
}

async function consume(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('releasingChunks', () => {
  it("yields exactly the readable's chunks, in order, as the same Buffer objects", async () => {
    const chunks = [Buffer.from('a'), Buffer.alloc(300 * KIB, 1), Buffer.alloc(0), Buffer.from('bcd'), Buffer.alloc(70_000, 2)].filter((c) => c.length > 0);
    const got = await consume(releasingChunks(readableOf(chunks)));
    assert.equal(got.length, chunks.length);
    got.forEach((c, i) => assert.equal(c, chunks[i], `chunk ${i} is the very buffer pushed`));
  });

  it('an empty readable yields nothing', async () => {
    assert.deepEqual(await consume(releasingChunks(readableOf([]))), []);
  });

  it('an error of the readable mid-way ends the iteration with it, after the chunks before it', async () => {
    const chunks = [Buffer.from('one'), Buffer.from('two')];
    const boom = new Error('boom');
    const body = readableOf(chunks, boom);
    const got: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const c of releasingChunks(body)) got.push(c);
    }, (err) => err === boom);
    assert.deepEqual(got, chunks);
    assert.equal(body.listenerCount('data'), 0);
    assert.equal(body.listenerCount('error'), 0);
  });

  it('a readable destroyed without an error before its end fails the iteration (premature close), it does not hang', async () => {
    const r = new Readable({ read() {} });
    r.push(Buffer.from('a'));
    setTimeout(() => r.destroy(), 10);
    await assert.rejects(consume(releasingChunks(r)), (err: NodeJS.ErrnoException) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
  });

  it('an early return() removes its listeners and leaves the rest of the readable to read', async () => {
    const chunks = [Buffer.from('first'), Buffer.from('second'), Buffer.from('third')];
    const body = readableOf(chunks);
    const before = { data: body.listenerCount('data'), end: body.listenerCount('end'), error: body.listenerCount('error') };
    for await (const c of releasingChunks(body)) {
      assert.equal(c, chunks[0]);
      break;
    }
    assert.deepEqual({ data: body.listenerCount('data'), end: body.listenerCount('end'), error: body.listenerCount('error') }, before);
    assert.equal(body.destroyed, false);
    const rest: Buffer[] = [];
    for await (const c of body) rest.push(c as Buffer);
    assert.deepEqual(Buffer.concat(rest), Buffer.from('secondthird'));
  });
});

describe('chunk pool', () => {
  it('takeChunk gives 1 MiB buffers', () => {
    const c = takeChunk();
    assert.equal(c.length, POOL_CHUNK);
    assert.equal(c.buffer.byteLength, POOL_CHUNK);
    assert.equal(c.byteOffset, 0);
  });

  it('chunks that went all the way through releasingChunks are taken again', async (t) => {
    drainPool(t);
    const chunks = [takeChunk(), takeChunk(), takeChunk().subarray(0, 256 * KIB)];
    const released = new Set(chunks.map((c) => c.buffer));
    assert.equal(released.size, 3);
    await consume(releasingChunks(readableOf(chunks)));
    const again = [takeChunk(), takeChunk(), takeChunk()];
    assert.deepEqual(new Set(again.map((c) => c.buffer)), released, 'all three come back, the last one too');
    assert.ok(again.every((c) => c.length === POOL_CHUNK && c.byteOffset === 0), 'whole again, even the one lent as 256 KiB');
    assert.ok(!released.has(takeChunk().buffer), 'nothing else was handed back');
  });

  it('chunks of less than 256 KiB are not handed back, nor buffers that are not from the pool', async (t) => {
    drainPool(t);
    const small = [takeChunk().subarray(0, 256 * KIB - 1), takeChunk().subarray(0, 1)];
    const foreign = [Buffer.allocUnsafeSlow(POOL_CHUNK), Buffer.alloc(POOL_CHUNK)];
    const chunks = [small[0]!, foreign[0]!, small[1]!, foreign[1]!];
    await consume(releasingChunks(readableOf(chunks)));
    const kept = new Set<ArrayBufferLike>(chunks.map((c) => c.buffer));
    for (let i = 0; i < 4; i++) assert.ok(!kept.has(takeChunk().buffer), `take ${i} is a fresh buffer`);
  });

  it('a chunk handed back twice goes into the pool once', async (t) => {
    drainPool(t);
    const c = takeChunk();
    // The same chunk in two bodies: a misuse, but the pool must not lend one buffer twice.
    await consume(releasingChunks(readableOf([c])));
    await consume(releasingChunks(readableOf([c])));
    const a = takeChunk();
    const b = takeChunk();
    assert.equal(a.buffer, c.buffer);
    assert.notEqual(b.buffer, c.buffer);
  });

  it('an iteration returned early hands back only the chunks it was asked past', async (t) => {
    drainPool(t);
    const chunks = [takeChunk(), takeChunk(), takeChunk()];
    let n = 0;
    for await (const _c of releasingChunks(readableOf(chunks))) {
      if (++n === 2) break; // chunk 0 was asked past; chunk 1 was still in use when the loop stopped
    }
    const again = new Set([takeChunk(), takeChunk(), takeChunk()].map((c) => c.buffer));
    assert.ok(again.has(chunks[0]!.buffer), 'chunk 0 came back');
    assert.ok(!again.has(chunks[1]!.buffer), 'chunk 1 (the one in use at return()) did not');
    assert.ok(!again.has(chunks[2]!.buffer), 'chunk 2 (never yielded) did not');
  });

  it('an iteration that fails hands back nothing more', async (t) => {
    drainPool(t);
    const chunks = [takeChunk(), takeChunk()];
    await assert.rejects(consume(releasingChunks(readableOf(chunks, new Error('boom')))), /boom/);
    const again = new Set([takeChunk(), takeChunk()].map((c) => c.buffer));
    assert.ok(again.has(chunks[0]!.buffer), 'chunk 0 was asked past');
    assert.ok(!again.has(chunks[1]!.buffer), 'the last chunk before the error is not handed back');
  });
});

describe('releasingChunks as an undici request body', () => {
  const CHUNKS = 24;

  /** A server that reads request bodies slowly (a pause after every read) and answers their sha256. */
  async function slowServer(t: TestContext): Promise<string> {
    const server: Server = createServer((req, res) => {
      const h = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.on('end', () => res.end(JSON.stringify({ sha256: h.digest('hex'), bytes })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Full pool chunks, each filled with its own pattern when taken; reused as soon as they come back. */
  class PoolProducer extends Readable {
    readonly hash = createHash('sha256');
    readonly buffers = new Set<ArrayBufferLike>();
    #i = 0;

    constructor(readonly n: number) {
      super({ highWaterMark: 1 });
    }

    override _read(): void {
      if (this.#i === this.n) {
        this.push(null);
        return;
      }
      const c = takeChunk();
      this.buffers.add(c.buffer);
      c.fill(`chunk ${this.#i} of ${this.n}; `);
      this.hash.update(c);
      this.#i++;
      this.push(c);
    }
  }

  async function put(t: TestContext, origin: string, body: AsyncIterable<Buffer>, length: number): Promise<{ sha256: string; bytes: number }> {
    const agent = new Agent();
    t.after(() => agent.close());
    const res = await agent.request({
      origin,
      path: '/upload',
      method: 'PUT',
      headers: { 'content-length': String(length) },
      // undici sends an async iterable (its writeIterable), though its types name only Readable.
      body: body as unknown as Readable,
    });
    assert.equal(res.statusCode, 200);
    return (await res.body.json()) as { sha256: string; bytes: number };
  }

  it('chunks handed back while undici sends reach the server intact, and the pool buffers were reused', async (t) => {
    const origin = await slowServer(t);
    const producer = new PoolProducer(CHUNKS);
    const got = await put(t, origin, releasingChunks(producer), CHUNKS * POOL_CHUNK);
    assert.equal(got.bytes, CHUNKS * POOL_CHUNK);
    assert.equal(got.sha256, producer.hash.digest('hex'), 'the bytes sent are the bytes produced: no chunk was overwritten while undici held it');
    assert.ok(producer.buffers.size < CHUNKS / 2, `${producer.buffers.size} distinct buffers for ${CHUNKS} chunks: they were reused`);
  });

  it('control: a body that overwrites each chunk while undici still waits for drain is caught by the hash', async (t) => {
    // Shows the test above can fail: the same upload, but each chunk is overwritten as soon as
    // it has been handed to undici rather than when undici asks for the next one.
    const origin = await slowServer(t);
    const hash = createHash('sha256');
    async function* early(): AsyncGenerator<Buffer> {
      for (let i = 0; i < CHUNKS; i++) {
        const c = Buffer.allocUnsafe(POOL_CHUNK).fill(`chunk ${i} of ${CHUNKS}; `);
        hash.update(c);
        setImmediate(() => c.fill(0xee));
        yield c;
      }
    }
    const got = await put(t, origin, early(), CHUNKS * POOL_CHUNK);
    assert.equal(got.bytes, CHUNKS * POOL_CHUNK);
    assert.notEqual(got.sha256, hash.digest('hex'));
  });
});
