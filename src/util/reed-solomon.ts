/**
 * Reed–Solomon erasure coding over GF(2^8) (polynomial x^8+x^4+x^3+x^2+1, 0x11d), systematic:
 * the data shards are kept as they are and `m` parity shards are added, so that any `m` lost
 * shards can be rebuilt from any `k` others. The encoding matrix is the identity over a Cauchy
 * matrix C[j][i] = 1 / (x_j + y_i) with x_j = k + j, y_i = i (all distinct, k + m ≤ 256): every
 * k×k submatrix of it is invertible, which is what "any k of k+m" needs. With m = 1 every
 * coefficient of the parity row is scaled to 1: parity is the XOR of the data shards.
 *
 * Written here rather than taken from npm: the maintained pure-JavaScript choices were none, the
 * native one (@ronomon/reed-solomon) was last released in 2019 and would need a compiler on every
 * install and a second addon in the single executable, and a WebAssembly build published once in
 * 2026 has no track record. This is the textbook construction (Plank, "A tutorial on Reed-Solomon
 * coding for fault-tolerance in RAID-like systems", with the Cauchy matrix of Blömer et al.),
 * tested against every erasure pattern of small codes.
 */

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse in GF(256)');
  return EXP[255 - LOG[a]!]!;
}

/** 256-byte multiplication table for one coefficient. */
const tables = new Map<number, Uint8Array>();
export function mulTable(c: number): Uint8Array {
  let t = tables.get(c);
  if (!t) {
    t = new Uint8Array(256);
    for (let v = 0; v < 256; v++) t[v] = gfMul(c, v);
    tables.set(c, t);
  }
  return t;
}

/** Rows of the code's generator matrix: row r < k is the unit row e_r, row k + j is parity j. */
export function generatorRow(k: number, m: number, row: number): Uint8Array {
  const out = new Uint8Array(k);
  if (row < k) {
    out[row] = 1;
    return out;
  }
  const j = row - k;
  if (m === 1) return out.fill(1);
  for (let i = 0; i < k; i++) out[i] = gfInv((k + j) ^ i);
  return out;
}

export function checkShape(k: number, m: number): void {
  if (!Number.isSafeInteger(k) || !Number.isSafeInteger(m) || k < 1 || m < 1 || k + m > 256) {
    throw new RangeError(`a Reed–Solomon code over GF(256) needs 1 ≤ k, 1 ≤ m, k + m ≤ 256 (got k=${k}, m=${m})`);
  }
}

/** Invert a k×k matrix over GF(256) (Gauss–Jordan); throws when it is singular. */
export function invert(matrix: readonly Uint8Array[]): Uint8Array[] {
  const k = matrix.length;
  const a = matrix.map((r) => Uint8Array.from(r));
  const inv = Array.from({ length: k }, (_, i) => {
    const r = new Uint8Array(k);
    r[i] = 1;
    return r;
  });
  for (let col = 0; col < k; col++) {
    let pivot = col;
    while (pivot < k && a[pivot]![col] === 0) pivot++;
    if (pivot === k) throw new RangeError('singular matrix');
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [inv[col], inv[pivot]] = [inv[pivot]!, inv[col]!];
    const scale = gfInv(a[col]![col]!);
    const ta = mulTable(scale);
    for (let c = 0; c < k; c++) {
      a[col]![c] = ta[a[col]![c]!]!;
      inv[col]![c] = ta[inv[col]![c]!]!;
    }
    for (let r = 0; r < k; r++) {
      const f = a[r]![col]!;
      if (r === col || f === 0) continue;
      const tf = mulTable(f);
      for (let c = 0; c < k; c++) {
        a[r]![c]! ^= tf[a[col]![c]!]!;
        inv[r]![c]! ^= tf[inv[col]![c]!]!;
      }
    }
  }
  return inv;
}

/**
 * The coefficients that rebuild shards `wanted` (generator row numbers) from the shards
 * `available` (exactly k row numbers): out[w] = Σ coef[w][s] · shard[available[s]].
 */
export function recoveryMatrix(k: number, m: number, available: readonly number[], wanted: readonly number[]): Uint8Array[] {
  checkShape(k, m);
  if (available.length !== k) throw new RangeError(`rebuilding needs exactly ${k} shards, got ${available.length}`);
  const inv = invert(available.map((r) => generatorRow(k, m, r)));
  return wanted.map((w) => {
    const g = generatorRow(k, m, w);
    const out = new Uint8Array(k);
    for (let s = 0; s < k; s++) {
      let v = 0;
      for (let i = 0; i < k; i++) v ^= gfMul(g[i]!, inv[i]![s]!);
      out[s] = v;
    }
    return out;
  });
}

/** 65536-entry table for one coefficient: two bytes multiplied at once (128 KiB each, made on first use). */
const wideTables = new Map<number, Uint16Array>();
function wideTable(c: number): Uint16Array {
  let t = wideTables.get(c);
  if (!t) {
    const n = mulTable(c);
    t = new Uint16Array(65536);
    for (let v = 0; v < 65536; v++) t[v] = n[v & 0xff]! | (n[v >>> 8]! << 8);
    wideTables.set(c, t);
  }
  return t;
}

/**
 * out ^= c · src over `length` bytes (GF(256) multiply-accumulate). c = 1 is a word-wise XOR;
 * otherwise 32-bit words through a 16-bit table (two lookups per four bytes), bytes at the ends.
 */
export function mulAdd(out: Uint8Array, src: Uint8Array, c: number, length = out.length): void {
  if (c === 0) return;
  let i = 0;
  const aligned = out.byteOffset % 4 === 0 && src.byteOffset % 4 === 0;
  const words = aligned ? length >>> 2 : 0;
  if (words > 0) {
    const o32 = new Uint32Array(out.buffer, out.byteOffset, words);
    const s32 = new Uint32Array(src.buffer, src.byteOffset, words);
    if (c === 1) {
      for (let w = 0; w < words; w++) o32[w]! ^= s32[w]!;
    } else {
      const t = wideTable(c);
      for (let w = 0; w < words; w++) {
        const v = s32[w]!;
        o32[w]! ^= t[v & 0xffff]! | (t[v >>> 16]! << 16);
      }
    }
    i = words << 2;
  }
  if (i < length) {
    const t = mulTable(c);
    for (; i < length; i++) out[i]! ^= t[src[i]!]!;
  }
}

/** Bytes per block: every output block stays in cache while each input adds to it. */
const BLOCK = 64 * 1024;

/** Apply a coefficient matrix to k input chunks: outputs[w] = Σ rows[w][s] · inputs[s]. */
export function applyMatrix(rows: readonly Uint8Array[], inputs: readonly Uint8Array[], outputs: readonly Uint8Array[], length: number): void {
  for (let start = 0; start < length; start += BLOCK) {
    const n = Math.min(BLOCK, length - start);
    for (let w = 0; w < rows.length; w++) {
      const out = outputs[w]!.subarray(start, start + n);
      out.fill(0);
      const row = rows[w]!;
      for (let s = 0; s < inputs.length; s++) mulAdd(out, inputs[s]!.subarray(start, start + n), row[s]!, n);
    }
  }
}
