import type { Logger } from '../log.js';
import type { TargetRegistry } from '../reference/index.js';
import { createRegistryClient, type ProbeResult, type RegistryHostConfig } from '../registry/index.js';

export interface ProbeRegistryOptions {
  /** The registry and path prefix to probe, parsed once by the caller (`parseTarget`). */
  readonly target: TargetRegistry;
  readonly dest: RegistryHostConfig;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

/** `airlock registry probe`: what a target supports, found by trying it (probe content is cleaned up). */
export async function probeRegistry(opts: ProbeRegistryOptions): Promise<ProbeResult> {
  const client = createRegistryClient(opts.target.host, opts.dest, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    side: 'dest',
    retries: 2,
  });
  try {
    return await client.probe(opts.target.prefix, opts.signal ? { signal: opts.signal } : {});
  } finally {
    await client.close();
  }
}
