/**
 * Receive buffers for large downloads, reused instead of left to the garbage collector.
 *
 * A socket read with Node's default allocation gets a fresh 64 KiB ArrayBuffer per read, and the
 * HTTP client copies and concatenates on top: ~2 GB of short-lived external memory per 1.6 GB
 * export, and V8 starts a mark-compact every 64 MB of it (~55 per export, with concurrent marking
 * on every core: docs/BENCHMARKS.md "Export CPU, 2026-12-07 (afternoon)"). Here a connection reads
 * straight into a 2 MiB slab (RECEIVE_SLAB; reads of up to 1 MiB), one read after the other at
 * increasing offsets; each read becomes one chunk, a view of the slab (no allocation of bytes). A
 * slab goes back to the free list once its reader has moved on to another slab and every chunk cut
 * from it has been handed back.
 *
 * Handing back: only the last holder of a chunk, once it is done with the bytes (the bundle
 * writer, after the write that copied them into the page cache), calls {@link releaseReceived}.
 * Each chunk counts once (a second release of the same chunk, or of a view cut from it, is
 * ignored). A chunk nobody hands back keeps its slab out of the pool until the garbage collector
 * takes it, as any buffer: forgetting is safe, only handing back early is not.
 */

/** Bytes per slab. */
export const RECEIVE_SLAB = 2 << 20;
/** Largest single read into a slab. */
const READ_MAX = 1 << 20;
/** A slab with less room than this left is sealed and the reader moves on to a fresh one. */
const READ_MIN = 128 << 10;
/** Free slabs kept; beyond this, slabs handed back are left to the garbage collector. */
const MAX_FREE = 24;

interface Slab {
  readonly buf: Buffer;
  /** Bytes of chunks cut from it and not yet handed back. */
  outstanding: number;
  /** Its reader has moved on: nothing more will be cut from it. */
  sealed: boolean;
}

const free: Buffer[] = [];
/** Where reads go after close (the socket asks for a buffer once more after its last read). */
const SPENT = Buffer.alloc(READ_MIN);
const slabs = new WeakMap<ArrayBuffer, Slab>();
/** Chunks out in the world, each counted once on release. */
const lent = new WeakSet<Buffer>();

function newSlab(): Slab {
  const slab: Slab = { buf: free.pop() ?? Buffer.allocUnsafeSlow(RECEIVE_SLAB), outstanding: 0, sealed: false };
  slabs.set(slab.buf.buffer as ArrayBuffer, slab);
  return slab;
}

function recycle(slab: Slab): void {
  slabs.delete(slab.buf.buffer as ArrayBuffer);
  if (free.length < MAX_FREE) free.push(slab.buf);
}

/**
 * One connection's reads: `space()` is where the next read goes (for `net.connect`'s
 * `onread.buffer`), `take(n)` cuts the `n` bytes just read there into a chunk (lent out:
 * hand it back with releaseReceived), `advance(n)` moves past the `n` bytes of that read (lent
 * or not: response headers are copied elsewhere). `close()` when the connection is done.
 */
export class ReceiveSlabs {
  #slab: Slab = newSlab();
  #at = 0;
  #closed = false;

  space(): Buffer {
    if (this.#closed) return SPENT;
    if (RECEIVE_SLAB - this.#at < READ_MIN) this.#next();
    return this.#slab.buf.subarray(this.#at, Math.min(RECEIVE_SLAB, this.#at + READ_MAX));
  }

  /** Bytes [start, start + n) of the read just made into `space()` become one lent chunk. */
  take(start: number, n: number): Buffer {
    const chunk = this.#slab.buf.subarray(this.#at + start, this.#at + start + n);
    this.#slab.outstanding += n;
    lent.add(chunk);
    return chunk;
  }

  /** The read just made into `space()` was `n` bytes: the next one goes after it. */
  advance(n: number): void {
    this.#at += n;
  }

  close(): void {
    this.#closed = true;
    this.#seal();
  }

  #next(): void {
    this.#seal();
    this.#slab = newSlab();
    this.#at = 0;
  }

  #seal(): void {
    const s = this.#slab;
    if (s.sealed) return;
    s.sealed = true;
    if (s.outstanding === 0) recycle(s);
  }
}

/** `chunk` (lent by a ReceiveSlabs) is no longer needed: its bytes may be overwritten. */
export function releaseReceived(chunk: Buffer): void {
  if (!lent.has(chunk)) return;
  lent.delete(chunk);
  const slab = slabs.get(chunk.buffer as ArrayBuffer);
  if (!slab) return;
  slab.outstanding -= chunk.length;
  if (slab.sealed && slab.outstanding === 0) recycle(slab);
}

/** Free slabs held (tests). */
export function freeReceiveSlabs(): number {
  return free.length;
}
