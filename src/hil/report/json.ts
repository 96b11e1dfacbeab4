/**
 * The JSON summary: per scenario its outcome, duration and key figures (time to online, reconnect time,
 * seq gaps…), for dashboards and for comparing runs. Diagnostics are included only for failures, bounded.
 */
import { totals, type RunReport } from './types.js';

export const JSON_REPORT_VERSION = 1;
/** Per diagnostics entry: the tail is what explains a failure. */
const MAX_DIAGNOSTIC_CHARS = 20_000;

export function toJsonSummary(report: RunReport): Record<string, unknown> {
  return {
    version: JSON_REPORT_VERSION,
    target: report.target,
    device: report.targetDescription,
    ...(report.device ? { deviceIdentity: report.device } : {}),
    startedAt: report.startedAt,
    durationMs: report.durationMs,
    totals: totals(report),
    ok: report.results.every((r) => r.outcome === 'passed' || r.outcome === 'skipped'),
    scenarios: report.results.map((r) => ({
      id: r.id,
      iteration: r.iteration,
      title: r.title,
      result: r.outcome,
      durationMs: r.durationMs,
      ...(r.message ? { message: r.message } : {}),
      ...(r.errorType ? { errorType: r.errorType } : {}),
      figures: r.figures,
      ...(r.partial?.length ? { partial: r.partial } : {}),
      notes: r.notes,
      ...(r.diagnostics
        ? {
            diagnostics: Object.fromEntries(
              Object.entries(r.diagnostics).map(([k, v]) => [
                k,
                v.length > MAX_DIAGNOSTIC_CHARS ? `…${v.slice(-MAX_DIAGNOSTIC_CHARS)}` : v,
              ]),
            ),
          }
        : {}),
    })),
  };
}
