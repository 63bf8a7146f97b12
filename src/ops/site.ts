import { mkdir } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { defaultStateDir } from '../cache/index.js';
import { computeSiteStatus, prometheusText, SiteState, type SiteStatus } from '../deploy/index.js';
import { ioError } from '../errors.js';
import { writeFileAtomic } from '../util/index.js';

export interface SiteStatusOptions {
  /** The import's --state-dir. Default under $XDG_STATE_HOME. */
  readonly stateDir?: string;
  /** `--max-age`: stale when no import succeeded within this many seconds. */
  readonly maxAgeSeconds?: number;
  /** `--prometheus FILE`: the same facts as a node-exporter textfile (temporary name, then rename). */
  readonly prometheusFile?: string;
  readonly now?: Date;
}

/** `airlock site status`: freshness from the site's import records, for people, cron and monitoring. */
export async function siteStatus(opts: SiteStatusOptions): Promise<SiteStatus & { prometheusFile?: string }> {
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const site = new SiteState(stateDir);
  const records = await site.requireImports();
  const status = computeSiteStatus(records, {
    stateDir, ...(opts.now ? { now: opts.now } : {}), ...(opts.maxAgeSeconds !== undefined ? { maxAgeSeconds: opts.maxAgeSeconds } : {}),
  });
  if (!opts.prometheusFile) return status;
  const file = resolvePath(opts.prometheusFile);
  try {
    await mkdir(dirname(file), { recursive: true });
  } catch (err) {
    throw ioError(err, 'create', dirname(file));
  }
  // The collector reads *.prom: the temporary sibling starts with a dot and ends otherwise.
  await writeFileAtomic(file, prometheusText(status), 0o644);
  return { ...status, prometheusFile: file };
}
