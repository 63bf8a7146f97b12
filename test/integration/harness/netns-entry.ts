/**
 * PID 1 of the namespaces harness/netns.ts creates: checks that it is not in the caller's network or
 * mount namespace, brings `lo` up, checks that `lo` is the only interface, maps the requested names
 * to 127.0.0.1 in a private /etc/hosts, then runs the requested function and writes its result.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NETNS_ENV, assertInLoopbackNamespace, bindMount, namespaceIds, networkInterfaces } from './netns.js';

interface Spec {
  module: string;
  fn: string;
  args: unknown;
  hosts?: string[];
  resultFile: string;
  outside: { net: string; mnt: string };
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
  const write = (r: unknown): void => writeFileSync(spec.resultFile, JSON.stringify(r));
  try {
    const inside = namespaceIds();
    if (inside.net === spec.outside.net || inside.mnt === spec.outside.mnt) {
      throw new Error(`still in the caller's namespaces (${inside.net}, ${inside.mnt})`);
    }
    const up = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`ip link set lo up: ${up.stderr || String(up.error)}`);
    const ifaces = networkInterfaces();
    if (ifaces.join(',') !== 'lo') throw new Error(`the new network namespace has interfaces besides lo: ${ifaces.join(', ')}`);
    process.env[NETNS_ENV] = '1';
    assertInLoopbackNamespace();
    if (spec.hosts && spec.hosts.length > 0) {
      // Beside the spec: the caller removes that directory.
      const file = join(dirname(spec.resultFile), 'hosts');
      await writeFile(file, `127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${spec.hosts.join(' ')}\n`);
      bindMount(file, '/etc/hosts');
    }
    const mod = (await import(spec.module)) as Record<string, unknown>;
    const fn = mod[spec.fn];
    if (typeof fn !== 'function') throw new Error(`${spec.module} exports no function ${spec.fn}`);
    const value = await (fn as (a: unknown) => Promise<unknown>)(spec.args);
    write({ ok: true, value });
  } catch (err) {
    write({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

await main();
// PID 1 of its namespace: exiting ends every process left in it (containerd, registries).
process.exit(0);
