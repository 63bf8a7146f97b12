/**
 * Parity volumes, measured: `node dist/scripts/bench-parity.js [VOLUMES] [MiB per volume]`.
 * Writes VOLUMES random files (default 8 × 128 MiB) in a temporary directory, then for m = 1, 2
 * and 4: writeParity (the export step) and repairVolumes with m volumes deleted (the repair step),
 * wall time and MB/s of volume data, median of 3. Numbers go to docs/operating-a-mirror.md.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repairVolumes, writeParity } from '../src/bundle/index.js';
import { helpRequested } from './usage.js';

helpRequested(`usage: node dist/scripts/bench-parity.js [VOLUMES] [MiB per volume]
Parity volumes written and repaired (m = 1, 2, 4), default 8 × 128 MiB; numbers go to docs/operating-a-mirror.md.`);

const k = Number(process.argv[2] ?? 8);
const mib = Number(process.argv[3] ?? 128);
const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-parity-'));
try {
  const volumes: string[] = [];
  const buf = new Uint8Array(1 << 20);
  for (let i = 0; i < k; i++) {
    const p = join(dir, `site.vol${String(i + 1).padStart(3, '0')}.tar`);
    const parts: Uint8Array[] = [];
    for (let j = 0; j < mib; j++) parts.push(Uint8Array.from(randomFillSync(buf)));
    await writeFile(p, parts);
    volumes.push(p);
  }
  const bytes = k * mib * (1 << 20);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const m of [1, 2, 4]) {
    const enc: number[] = [];
    const rep: number[] = [];
    for (let r = 0; r < 3; r++) {
      let t = performance.now();
      const w = await writeParity({ bundleId: 'sha256:bench', volumes, m });
      enc.push((performance.now() - t) / 1000);
      for (let i = 0; i < m; i++) await unlink(volumes[i]!);
      t = performance.now();
      await repairVolumes({ files: [...volumes.slice(m), ...w.files.map((f) => f.path)] });
      rep.push((performance.now() - t) / 1000);
      for (const f of w.files) await rm(f.path);
    }
    const e = median(enc);
    const rr = median(rep);
    console.log(`k=${k} m=${m}, ${k}×${mib} MiB: parity ${e.toFixed(2)} s (${(bytes / e / 1e6).toFixed(0)} MB/s), repair of ${m} lost ${rr.toFixed(2)} s (${(bytes / rr / 1e6).toFixed(0)} MB/s, hashing every file included)`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
