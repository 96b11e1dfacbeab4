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
  /** Parts of the scenario that could not run here (e.g. link degradation without netem): it passed on the rest. */
  partial?: string[];
}

/** What exactly was tested, as far as the rig could tell (absent fields: unknown for this target). */
export interface DeviceIdentity {
  version?: string;
  /** Of the binary file, for the binary targets. */
  sha256?: string;
  arch?: string;
}

export interface RunReport {
  target: string;
  targetDescription: string;
  startedAt: string;
  durationMs: number;
  results: ScenarioResult[];
  device?: DeviceIdentity;
}

export function totals(report: RunReport): Record<Outcome, number> & { total: number; partial: number } {
  const count = (o: Outcome) => report.results.filter((r) => r.outcome === o).length;
  return {
    total: report.results.length,
    passed: count('passed'),
    failed: count('failed'),
    error: count('error'),
    skipped: count('skipped'),
    partial: report.results.filter((r) => r.partial?.length).length,
  };
}
