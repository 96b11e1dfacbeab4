/**
 * A whole run: the planned scenarios one after another (they share two cores and sometimes a real device, so
 * never in parallel), within the run's overall budget, with a line per result on the console. Scenarios that
 * the budget leaves no time for are reported as errors, so a CI run that got slower cannot pass quietly; those
 * left when the run is stopped (Ctrl-C) are skipped with the reason.
 */
import type { Planned } from './select.js';
import { runScenario, type BedOptions } from './run-scenario.js';
import type { RunReport, ScenarioResult } from '../report/types.js';

export interface RunOptions extends BedOptions {
  budgetMs: number;
  targetDescription: string;
  /** Console progress (stderr in the CLI). */
  progress: (line: string) => void;
}

const SYMBOL: Record<ScenarioResult['outcome'], string> = {
  passed: 'PASS',
  failed: 'FAIL',
  error: 'ERROR',
  skipped: 'SKIP',
};

export async function runPlanned(planned: Planned[], options: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const results: ScenarioResult[] = [];
  for (const { scenario, iteration } of planned) {
    const left = options.budgetMs - (Date.now() - started);
    const label = iteration > 1 ? `${scenario.id} #${iteration}` : scenario.id;
    if (options.stop?.aborted) {
      const why = (options.stop.reason as Error).message;
      results.push({
        id: scenario.id,
        title: scenario.title,
        iteration,
        outcome: 'skipped',
        message: `not run: ${why}`,
        durationMs: 0,
        figures: {},
        notes: [],
      });
      options.progress(`${SYMBOL.skipped.padEnd(5)} ${label}: not run, ${why}`);
      continue;
    }
    if (left <= 0) {
      results.push({
        id: scenario.id,
        title: scenario.title,
        iteration,
        outcome: 'error',
        errorType: 'BudgetExhausted',
        message: "not run: the run's --timeout-s budget was spent",
        durationMs: 0,
        figures: {},
        notes: [],
      });
      options.progress(`${SYMBOL.error.padEnd(5)} ${label}: not run, budget spent`);
      continue;
    }
    options.progress(`....  ${label}: ${scenario.title}`);
    const result = await runScenario(scenario, iteration, options, left);
    results.push(result);
    const figures = Object.entries(result.figures)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ');
    options.progress(
      `${SYMBOL[result.outcome].padEnd(5)} ${label} (${(result.durationMs / 1000).toFixed(1)} s)${figures ? ` ${figures}` : ''}${result.message ? `\n      ${result.message.split('\n')[0]}` : ''}`,
    );
  }
  return {
    target: options.targetKind,
    targetDescription: options.targetDescription,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
  };
}
