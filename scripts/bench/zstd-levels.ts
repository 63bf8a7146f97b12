/**
 * `node dist/scripts/bench/zstd-levels.js [--profile large] [--levels -5,-1,1,3]`: the CPU cost
 * and the size gain of zstd-compressing a profile's blobs (gzip layers and all) at each level,
 * through the bundle writer's own compressor, input from the page cache, output discarded.
 * `none` is the same pass without compression: reading and piping alone.
 * This is what picks the writer's default level (docs/BENCHMARKS.md "zstd level").
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createZstdCompressStream } from '../../src/archive/index.js';
import { loadFixtures } from '../../fixtures/harness/fixtures.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { profile: { type: 'string', default: 'large' }, levels: { type: 'string', default: 'none,-5,-1,1,3' } } });
  const fx = await loadFixtures(values.profile as 'small' | 'large');
  const dir = join(fx.layoutDir, 'blobs', 'sha256');
  const files = (await readdir(dir)).map((f) => join(dir, f));
  let total = 0;
  for (const f of files) total += (await stat(f)).size;
  const rows: string[] = [];
  for (const name of values.levels!.split(',')) {
    const level = Number(name);
    let out = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const f of files) {
      await pipeline(createReadStream(f, { highWaterMark: 1 << 20 }), name === 'none' ? new PassThrough({ highWaterMark: 1 << 20 }) : createZstdCompressStream({ level }), new Writable({
        write(c: Buffer, _e, cb) {
          out += c.length;
          cb();
        },
      }));
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    rows.push(`| ${name} | ${(total / out).toFixed(4)} | ${((total - out) / 2 ** 20).toFixed(1)} MiB | ${wall.toFixed(2)} s | ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s | ${(total / wall / 1e9).toFixed(2)} GB/s |`);
  }
  process.stdout.write(`${(total / 1e9).toFixed(2)} GB in ${files.length} blobs (${values.profile})\n| level | ratio | saved | wall | CPU | throughput |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
