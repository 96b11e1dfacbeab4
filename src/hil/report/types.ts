/** What a run produced, the single input of every report writer. */
import type { Figure } from '../scenario-kit/types.js';

export type Outcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface ScenarioResult {
  id: string;
  title: string;
  /** 1-based, for `--repeat`. */
  iteration: number;
  outcome: Outcome;
  /** Why it failed, errored or was skipped. */
  message?: string;
  /** The error's class (CheckFailed, TimeoutError, …) for failures and errors. */
  errorType?: string;
  durationMs: number;
  figures: Record<string, Figure>;
  notes: string[];
  /** Gathered on failure: device status and output, mock logs. */
  diagnostics?: Record<string, string>;
}

export interface RunReport {
  target: string;
  targetDescription: string;
  startedAt: string;
  durationMs: number;
  results: ScenarioResult[];
}

export function totals(report: RunReport): Record<Outcome, number> & { total: number } {
  const count = (o: Outcome) => report.results.filter((r) => r.outcome === o).length;
  return {
    total: report.results.length,
    passed: count('passed'),
    failed: count('failed'),
    error: count('error'),
    skipped: count('skipped'),
  };
}
