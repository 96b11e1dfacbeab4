/** `consystence-hil fleet`: flags → simulation → a readable summary on stdout and the JSON report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runFleet, type FleetReport } from '../fleet/simulator.js';
import { HilExit } from './exit-codes.js';
import { FLEET_USAGE, parseFleetArgs } from './fleet-args.js';
import { UsageError } from './run-args.js';
import type { Io } from './run-command.js';

export function formatFleet(r: FleetReport): string {
  const lines = [
    `fleet of ${r.devices} (${r.implementation})`,
    `pairing      ${r.pairing.durationMs} ms (${r.pairing.perSecond}/s)`,
    `connect      p50 ${r.connect.p50} ms, p90 ${r.connect.p90} ms, p99 ${r.connect.p99} ms, max ${r.connect.max} ms; all online after ${r.connect.allOnlineMs ?? 'never'} ms (${r.connect.online}/${r.devices})`,
    `telemetry    ${r.telemetry.enqueued} enqueued (${r.telemetry.enqueueRate}/s), ${r.telemetry.receivedAtSite} received at the site server (${r.telemetry.receiveRate}/s), ${r.telemetry.duplicates} duplicates, ${r.telemetry.missing} missing`,
  ];
  if (r.reconnectStorm) {
    const s = r.reconnectStorm;
    lines.push(`broker restart  down ${s.downS} s; all back after ${s.allBackMs ?? 'never'} ms (${s.back}/${r.devices}); ${s.totalAttempts} attempts, peak ${s.peak}/s, mean ${s.mean}/s, peak/mean ${s.peakToMean}`);
    lines.push(`  attempts per second: ${s.attemptsPerSecond.join(' ')}`);
  }
  lines.push(`memory       rss peak ${r.memory.rssPeakMb} MB, end ${r.memory.rssEndMb} MB (≈${r.memory.perEdgeKb} KB per edge), heap ${r.memory.heapUsedEndMb} MB`);
  if (r.problems.length) lines.push(...r.problems.map((p) => `PROBLEM: ${p}`));
  return `${lines.join('\n')}\n`;
}

export async function fleetCommand(argv: string[], io: Io): Promise<number> {
  let args;
  try {
    args = parseFleetArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`consystence-hil fleet: ${error.message}\n${FLEET_USAGE}\n`);
    return HilExit.USAGE;
  }
  if (args.help) {
    io.stdout(`${FLEET_USAGE}\n`);
    return HilExit.OK;
  }
  const report = await runFleet({ ...args, devices: args.devices!, progress: (line) => io.stderr(`${line}\n`) });
  io.stdout(formatFleet(report));
  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  return report.ok ? HilExit.OK : HilExit.FAILED;
}
