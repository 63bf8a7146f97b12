import { formatAge } from '../util/index.js';
import type { ImportRecord } from './site-state.js';

/** `airlock site status`: what the site's import records say about its freshness. */
export interface SiteStatus {
  readonly version: 1;
  readonly stateDir: string;
  readonly now: string;
  readonly imports: number;
  readonly failures: number;
  /** The newest import that succeeded (a split bundle's volume counts; `complete` says whether all were in). */
  readonly lastImport?: {
    readonly bundleId?: string;
    readonly finished: string;
    readonly ageSeconds: number;
    readonly signer?: string;
    readonly target: string;
    readonly complete: boolean;
    readonly artifacts: number;
    readonly blobsPushed: number;
    readonly bytesPushed: number;
    readonly tagsMoved: number;
  };
  /** The newest bundle the site holds, by when it was made on the DMZ side. */
  readonly newestContent?: { readonly bundleId?: string; readonly created: string; readonly ageSeconds: number };
  readonly lastFailure?: {
    readonly time: string;
    readonly code: string;
    readonly message: string;
    readonly bundleId?: string;
    /** True when nothing succeeded since: the site's last attempt failed. */
    readonly current: boolean;
  };
  readonly maxAgeSeconds?: number;
  /** With --max-age: no successful import within it (or none at all). */
  readonly stale: boolean;
  readonly staleReason?: string;
}

const age = (now: Date, iso: string): number => Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));

export function computeSiteStatus(records: readonly ImportRecord[], opts: { stateDir: string; now?: Date; maxAgeSeconds?: number }): SiteStatus {
  const now = opts.now ?? new Date();
  const ok = records.filter((r) => r.result === 'ok');
  const failed = records.filter((r) => r.result === 'error');
  const last = ok.at(-1);
  const lastFail = failed.at(-1);
  let newest: ImportRecord | undefined;
  for (const r of ok) if (r.bundleCreated && (!newest || r.bundleCreated > newest.bundleCreated!)) newest = r;
  const lastAge = last ? age(now, last.finished) : undefined;
  let stale = false;
  let staleReason: string | undefined;
  if (opts.maxAgeSeconds !== undefined) {
    if (!last) {
      stale = true;
      staleReason = 'no import has succeeded';
    } else if (lastAge! > opts.maxAgeSeconds) {
      stale = true;
      staleReason = `the last successful import finished ${formatAge(lastAge!)} ago, more than --max-age ${formatAge(opts.maxAgeSeconds)}`;
    }
  }
  return {
    version: 1, stateDir: opts.stateDir, now: now.toISOString(), imports: records.length, failures: failed.length,
    ...(last ? {
      lastImport: {
        ...(last.bundleId ? { bundleId: last.bundleId } : {}), finished: last.finished, ageSeconds: lastAge!,
        ...(last.signer ? { signer: last.signer } : {}), target: last.target, complete: last.complete ?? true,
        artifacts: last.artifacts ?? 0, blobsPushed: last.blobsPushed ?? 0, bytesPushed: last.bytesPushed ?? 0, tagsMoved: last.tagsMoved ?? 0,
      },
    } : {}),
    ...(newest ? { newestContent: { ...(newest.bundleId ? { bundleId: newest.bundleId } : {}), created: newest.bundleCreated!, ageSeconds: age(now, newest.bundleCreated!) } } : {}),
    ...(lastFail ? {
      lastFailure: {
        time: lastFail.finished, code: lastFail.error?.code ?? 'INTERNAL', message: lastFail.error?.message ?? '',
        ...(lastFail.bundleId ? { bundleId: lastFail.bundleId } : {}), current: !last || lastFail.finished > last.finished,
      },
    } : {}),
    ...(opts.maxAgeSeconds !== undefined ? { maxAgeSeconds: opts.maxAgeSeconds } : {}),
    stale, ...(staleReason ? { staleReason } : {}),
  };
}

/** The node-exporter textfile collector's format (Prometheus text exposition 0.0.4). */
export function prometheusText(s: SiteStatus): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number | undefined): void => {
    if (value === undefined) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  const ts = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) / 1000 : undefined);
  metric('airlock_last_import_timestamp_seconds', 'gauge', 'When the last successful import finished (Unix time).', ts(s.lastImport?.finished));
  metric('airlock_last_import_complete', 'gauge', '1 when the last successful import tagged every artifact (all volumes in).', s.lastImport ? (s.lastImport.complete ? 1 : 0) : undefined);
  metric('airlock_last_import_artifacts', 'gauge', 'Artifacts in the last successful import.', s.lastImport?.artifacts);
  metric('airlock_last_import_blobs_pushed', 'gauge', 'Blobs the last successful import pushed.', s.lastImport?.blobsPushed);
  metric('airlock_last_import_bytes_pushed', 'gauge', 'Bytes the last successful import pushed.', s.lastImport?.bytesPushed);
  metric('airlock_last_import_tags_moved', 'gauge', 'Tags the last successful import moved off another digest.', s.lastImport?.tagsMoved);
  metric('airlock_newest_content_timestamp_seconds', 'gauge', 'When the newest imported bundle was made on the DMZ side (Unix time).', ts(s.newestContent?.created));
  metric('airlock_imports_total', 'counter', 'Imports recorded in the state directory, successful or not.', s.imports);
  metric('airlock_import_failures_total', 'counter', 'Imports that failed.', s.failures);
  metric('airlock_last_failure_timestamp_seconds', 'gauge', 'When the last failed import stopped (Unix time).', ts(s.lastFailure?.time));
  metric('airlock_last_import_failed', 'gauge', '1 when the most recent import attempt failed.', s.lastFailure?.current ? 1 : 0);
  if (s.maxAgeSeconds !== undefined) {
    metric('airlock_max_age_seconds', 'gauge', 'The --max-age the status was checked against.', s.maxAgeSeconds);
    metric('airlock_stale', 'gauge', '1 when no import succeeded within --max-age.', s.stale ? 1 : 0);
  }
  return `${lines.join('\n')}\n`;
}
