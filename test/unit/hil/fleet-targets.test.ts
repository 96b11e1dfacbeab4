/** Fleet targets judged from a report, printed met or missed, and written as JUnit testcases. */
import { describe, expect, it } from 'vitest';
import { formatFleet } from '../../../src/hil/cli/fleet-format.js';
import type { FleetReport } from '../../../src/hil/fleet/report.js';
import { fleetRunReport, fleetTargets } from '../../../src/hil/fleet/targets.js';
import { toJUnitXml } from '../../../src/hil/report/junit.js';

const dist = { count: 10, p50: 1, p95: 2, p99: 3, max: 4 };
const report = {
  devices: 10,
  implementation: 'test',
  workers: { count: 1, runtime: 'node', rows: [] },
  pairing: { durationMs: 1, perSecond: 1, failed: 0 },
  connect: { ...dist, allOnlineMs: null, online: 7 },
  telemetry: {
    targetRate: 1,
    durationS: 1,
    enqueued: 5,
    enqueueRate: 1,
    receivedAtSite: 5,
    builtinMetricsAtSite: 0,
    receiveRate: 1,
    duplicates: 0,
    missing: 0,
  },
  reconnectStorm: null,
  memory: { rssPeakMb: 1, rssEndMb: 1, heapUsedEndMb: 1, perEdgeKb: 1, totalRssPeakMb: 1, processes: [] },
  durationMs: 1000,
  ok: false,
  problems: ['only 7/10 edges online after 30 s'],
} as unknown as FleetReport;

describe('fleet targets', () => {
  it('prints each target as met or MISSED with what was measured', () => {
    const targets = fleetTargets(report, 30);
    expect(targets.map((t) => [t.id, t.met])).toEqual([
      ['pairing', true],
      ['connect', false],
      ['delivery', true],
    ]);
    const text = formatFleet(report, targets);
    expect(text).toContain('target       met    all 10 edges paired (10 paired)');
    expect(text).toContain('target       MISSED all 10 edges online within 30 s (7 online)');
  });

  it('writes one JUnit testcase per target, a failure for a missed one, an error when the run broke', () => {
    const xml = toJUnitXml(fleetRunReport({ report, targets: fleetTargets(report, 30) }, '2026-01-01T00:00:00Z', 5));
    expect(xml).toMatch(/<testsuite name="consystence-hil.fleet" tests="3" failures="1" errors="0"/);
    expect(xml).toMatch(
      /<testcase name="connect"[^>]*>\s*<failure message="missed: all 10 edges online within 30 s; got 7 online"/,
    );
    const broken = toJUnitXml(fleetRunReport({ error: new Error('worker 2 died') }, '2026-01-01T00:00:00Z', 5));
    expect(broken).toMatch(/<testcase name="fleet-run"[^>]*>\s*<error message="worker 2 died"/);
  });
});
