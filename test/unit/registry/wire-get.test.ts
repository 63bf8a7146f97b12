import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { wireGet } from '../../../src/registry/wire-get.js';
import { RECEIVE_SLAB, ReceiveSlabs, releaseReceived } from '../../../src/util/index.js';
import { freeReceiveSlabs } from '../../../src/util/receive-pool.js';

/** A TCP server that answers each connection with `answer(requestHead, socket)`; the request heads it saw. */
async function serve(t: TestContext, answer: (head: string, s: net.Socket) => void): Promise<{ url: (path: string) => URL; heads: string[] }> {
  const heads: string[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(buf.slice(0, end));
      answer(buf.slice(0, end), s);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  return { url: (path) => new URL(`http://127.0.0.1:${port}${path}`), heads };
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) out.push(c);
  return out;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('wireGet', () => {
  it('reads a 200 body of several MiB exactly, in chunks lent from the receive pool, with the request headers sent', async (t) => {
    const data = randomBytes(3 * RECEIVE_SLAB + 12345);
    const { url, heads } = await serve(t, (_h, s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\nDocker-Content-Digest: sha256:x\r\n\r\n`);
      // In pieces, so that reads end at odd places.
      for (let i = 0; i < data.length; i += 100_003) s.write(data.subarray(i, i + 100_003));
      s.end();
    });
    const res = await wireGet(url('/v2/a/blobs/sha256:x'), { authorization: 'Bearer t' }, { timeoutMs: 5000 });
    assert.ok(res);
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-content-digest'], 'sha256:x');
    const chunks = await readAll(res.body);
    assert.equal(sha(Buffer.concat(chunks)), sha(data));
    assert.match(heads[0]!, /^GET \/v2\/a\/blobs\/sha256:x HTTP\/1\.1\r\n/);
    assert.match(heads[0]!, /\r\nauthorization: Bearer t(\r\n|$)/);
    for (const c of chunks) assert.equal(c.buffer.byteLength, RECEIVE_SLAB, 'a view of a slab, not a buffer of its own');
  });

  it('resolves undefined for what it does not handle (401, redirect, chunked, no Content-Length)', async (t) => {
    const answers = [
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="x"\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 307 Temporary Redirect\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n\r\nhello',
    ];
    let n = 0;
    const { url } = await serve(t, (_h, s) => { s.end(answers[n++]!); });
    for (let i = 0; i < answers.length; i++) assert.equal(await wireGet(url('/x'), {}, { timeoutMs: 5000 }), undefined, answers[i]);
  });

  it('sends nothing when a header field could split the request (left to undici, which refuses it)', async (t) => {
    const { url, heads } = await serve(t, (_h, s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(await wireGet(url('/x'), { authorization: 'Bearer a\r\nx-evil: 1' }, { timeoutMs: 5000 }), undefined);
    assert.equal(await wireGet(url('/x'), { 'bad name': 'v' }, { timeoutMs: 5000 }), undefined);
    assert.equal(heads.length, 0);
  });

  it('fails the body when the connection ends or resets before Content-Length bytes', async (t) => {
    const { url } = await serve(t, (h, s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n`);
      s.write(randomBytes(300_000), () => (h.includes('/reset') ? s.resetAndDestroy() : s.end()));
    });
    for (const path of ['/end', '/reset']) {
      const res = await wireGet(url(path), {}, { timeoutMs: 5000 });
      assert.ok(res);
      await assert.rejects(readAll(res.body), (err: NodeJS.ErrnoException) => err.code === 'UND_ERR_SOCKET' || err.code === 'ECONNRESET', path);
    }
  });

  it('takes a 206 as it is, and times out a stalled body', async (t) => {
    const { url } = await serve(t, (h, s) => {
      if (h.includes('/stall')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      else s.end('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\nfghij');
    });
    const part = await wireGet(url('/part'), { range: 'bytes=5-' }, { timeoutMs: 5000 });
    assert.equal(part?.status, 206);
    assert.equal(Buffer.concat(await readAll(part!.body)).toString(), 'fghij');
    const stalled = await wireGet(url('/stall'), {}, { timeoutMs: 200 });
    await assert.rejects(readAll(stalled!.body), (err: NodeJS.ErrnoException) => err.code === 'ETIMEDOUT');
  });

  it('fails at once when the signal fires', async (t) => {
    const { url } = await serve(t, (_h, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const ac = new AbortController();
    const res = await wireGet(url('/x'), {}, { timeoutMs: 5000, signal: ac.signal });
    const reading = readAll(res!.body);
    ac.abort(new Error('stop'));
    await assert.rejects(reading, /stop/);
  });
});

describe('receive pool', () => {
  it('takes a slab back only once every chunk cut from it is handed back, each chunk counted once', () => {
    const r = new ReceiveSlabs();
    const a = r.space();
    a.fill(1);
    const c1 = r.take(0, 1000);
    r.advance(1000);
    const b = r.space();
    assert.equal(b.byteOffset, a.byteOffset + 1000, 'the next read goes after the last');
    const c2 = r.take(0, 2000);
    r.advance(2000);
    r.close();
    const before = freeReceiveSlabs();
    releaseReceived(c1);
    releaseReceived(c1); // a second release of the same chunk does not count
    releaseReceived(c1.subarray(0, 10)); // nor does a view cut from it
    assert.equal(freeReceiveSlabs(), before, 'c2 is still out');
    releaseReceived(c2);
    assert.equal(freeReceiveSlabs(), before + 1);
  });
});
