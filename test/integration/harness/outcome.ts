/**
 * The outcome log of the reliability suites: one JSON line per scenario run, appended to
 * $AIRLOCK_RELIABILITY_LOG when it is set (scripts/reliability-report.ts sets it and turns the
 * lines into docs/RELIABILITY.md). No other dependency, so unit tests (fuzz) can record too.
 */
import { appendFileSync } from 'node:fs';

export type Outcome =
  /** The run ended with the right result. */
  | 'correct'
  /** The run ended with a coded error (exit 1, 2 or 3) and the target holds nothing corrupt. */
  | 'clear-error'
  /** Killed, then the re-run completed and equals a clean run. */
  | 'resumed'
  /** The scenario could not run here; `detail` says why. */
  | 'skipped'
  | 'failed';

export interface OutcomeRecord {
  /** Section of docs/RELIABILITY.md, e.g. 'faults', 'kill', 'hostile'. */
  readonly group: string;
  readonly scenario: string;
  /** 'export', 'import', 'verify', or '-' */
  readonly side: string;
  readonly outcome: Outcome;
  /** Did the target (or output) hold a corrupt blob, a wrong tag, or a tag on incomplete content? */
  readonly corrupt: boolean;
  readonly detail?: string;
  /** Runs this line stands for (a property test's numRuns). Default 1. */
  readonly runs?: number;
}

/** Append one run's outcome to $AIRLOCK_RELIABILITY_LOG (set by scripts/reliability-report.ts). */
export function recordOutcome(rec: OutcomeRecord): void {
  const file = process.env.AIRLOCK_RELIABILITY_LOG;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify(rec)}\n`);
}

