/**
 * What a fleet run promises, target by target, judged from its report: every edge paired, every edge online
 * within the settle time, every message delivered with no seq missing, and (with a broker restart) every edge
 * back. Printed as met or missed and written as JUnit testcases, so a CI sees which promise broke, not only
 * that something did.
 */
import type { RunReport, ScenarioResult } from '../report/types.js';
import type { FleetReport } from './report.js';

export interface FleetTarget {
  id: string;
  target: string;
  actual: string;
  met: boolean;
}

export function fleetTargets(r: FleetReport, settleTimeoutS: number): FleetTarget[] {
  const paired = r.devices - r.pairing.failed;
  const targets: FleetTarget[] = [
    {
      id: 'pairing',
      target: `all ${r.devices} edges paired`,
      actual: `${paired} paired`,
      met: r.pairing.failed === 0,
    },
    {
      id: 'connect',
      target: `all ${r.devices} edges online within ${settleTimeoutS} s`,
      actual:
        r.connect.allOnlineMs === null ? `${r.connect.online} online` : `all online after ${r.connect.allOnlineMs} ms`,
      met: r.connect.allOnlineMs !== null,
    },
    {
      id: 'delivery',
      target: `every enqueued message at the site server (${r.telemetry.enqueued}), none missing`,
      actual: `${r.telemetry.receivedAtSite} received, ${r.telemetry.missing} missing`,
      met: r.telemetry.receivedAtSite >= r.telemetry.enqueued && r.telemetry.missing === 0,
    },
  ];
  if (r.reconnectStorm)
    targets.push({
      id: 'broker-restart',
      target: `all ${r.devices} edges back within ${settleTimeoutS} s of the broker restart`,
      actual:
        r.reconnectStorm.allBackMs === null
          ? `${r.reconnectStorm.back} back`
          : `all back after ${r.reconnectStorm.allBackMs} ms`,
      met: r.reconnectStorm.allBackMs !== null,
    });
  return targets;
}

/**
 * The fleet run as a RunReport, for the JUnit writer: one testcase per target (missed: a failure), one for
 * problems no target names, or one error when the run could not finish at all.
 */
export function fleetRunReport(
  outcome: { report: FleetReport; targets: FleetTarget[] } | { error: Error },
  startedAt: string,
  durationMs: number,
): RunReport {
  const base = { iteration: 1, durationMs, figures: {}, notes: [] };
  let results: ScenarioResult[];
  if ('error' in outcome) {
    results = [
      {
        ...base,
        id: 'fleet-run',
        title: 'the fleet run finishes',
        outcome: 'error',
        message: outcome.error.message,
        errorType: outcome.error.name,
      },
    ];
  } else {
    results = outcome.targets.map((t) => ({
      ...base,
      id: t.id,
      title: t.target,
      outcome: t.met ? 'passed' : 'failed',
      ...(t.met ? {} : { message: `missed: ${t.target}; got ${t.actual}`, errorType: 'TargetMissed' }),
      notes: [`target: ${t.target}`, `actual: ${t.actual}`],
    }));
    if (!outcome.report.ok && outcome.targets.every((t) => t.met))
      results.push({
        ...base,
        id: 'fleet-problems',
        title: 'no other problem during the run',
        outcome: 'failed',
        message: outcome.report.problems.join('\n'),
        errorType: 'Problem',
      });
  }
  return { target: 'fleet', targetDescription: 'consystence-hil fleet', startedAt, durationMs, results };
}
