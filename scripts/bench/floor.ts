/**
 * The floors the bench's `floor` phase measures, each in a node process of its own (spawned and
 * measured like the tools, scripts/bench/measure.ts):
 *
 *   node dist/scripts/bench/floor.js send FILE PORT
 *     What any node importer must do with a bundle's bytes, and nothing else: every byte of FILE
 *     read from the page cache into reused 1 MiB buffers, hashed with SHA-256 (every byte is
 *     checked against its digest while it streams) and written to a loopback socket on PORT
 *     whose reader (the bench) discards it. No HTTP, no bundle format, no per-blob work: the
 *     process's CPU is node's start-up plus the bytes' cost, a floor for `bundle import`'s client
 *     CPU. Prints the file's SHA-256.
 *
 *   node dist/scripts/bench/floor.js touch MIB
 *     The cost of a page's first touch: MIB MiB allocated, one byte written per 4 KiB page,
 *     timed in-process. Prints microseconds per page. On bare metal a fault is ~0.1–0.3 µs; in a
 *     guest whose page tables the hypervisor shadows it can be ~50× that, and then every page a
 *     process touches for the first time shows up as its CPU (docs/BENCHMARKS.md).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const CHUNK = 1 << 20;
/** Buffers in flight: one is reused only after the write that carried it has completed. */
const RING = 8;

async function send(file: string, port: number): Promise<void> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject);
  });
  const ring = Array.from({ length: RING }, () => ({ buf: Buffer.allocUnsafeSlow(CHUNK), written: Promise.resolve() }));
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    for (let i = 0; ; i++) {
      const slot = ring[i % RING]!;
      await slot.written;
      const n = readSync(fd, slot.buf, 0, CHUNK, null);
      if (n === 0) break;
      const chunk = n === CHUNK ? slot.buf : slot.buf.subarray(0, n);
      hash.update(chunk);
      slot.written = new Promise<void>((resolve, reject) => {
        socket.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    }
    await Promise.all(ring.map((s) => s.written));
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve) => socket.end(resolve));
  process.stdout.write(`sha256:${hash.digest('hex')}\n`);
}

function touch(mib: number): void {
  const bytes = mib << 20;
  const started = process.hrtime.bigint();
  const buf = Buffer.allocUnsafeSlow(bytes);
  for (let i = 0; i < bytes; i += 4096) buf[i] = 1;
  const ns = Number(process.hrtime.bigint() - started);
  process.stdout.write(`${(ns / 1000 / (bytes / 4096)).toFixed(2)}\n`);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'send' && a && b) {
  await send(a, Number(b));
} else if (mode === 'touch' && a) {
  touch(Number(a));
} else {
  process.stderr.write('usage: floor.js send FILE PORT | floor.js touch MIB\n');
  process.exitCode = 2;
}
