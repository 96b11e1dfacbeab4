/** The fleet report as a readable summary: fleet-wide lines first, then one line per worker and per process. */
import type { FleetReport } from '../fleet/report.js';
import type { FleetTarget } from '../fleet/targets.js';

export function formatFleet(r: FleetReport, targets: FleetTarget[]): string {
  const lines = [
    `fleet of ${r.devices} (${r.implementation})`,
    `pairing      ${r.pairing.durationMs} ms (${r.pairing.perSecond}/s), ${r.pairing.failed} failed`,
    `connect      p50 ${r.connect.p50} ms, p95 ${r.connect.p95} ms, p99 ${r.connect.p99} ms, max ${r.connect.max} ms; all online after ${r.connect.allOnlineMs ?? 'never'} ms (${r.connect.online}/${r.devices})`,
    `telemetry    ${r.telemetry.enqueued} enqueued (${r.telemetry.enqueueRate}/s), ${r.telemetry.receivedAtSite} received at the site server (${r.telemetry.receiveRate}/s; ${r.telemetry.builtinMetricsAtSite} of them the runtime's own metrics), ${r.telemetry.duplicates} duplicates, ${r.telemetry.missing} missing`,
  ];
  if (r.reconnectStorm) {
    const s = r.reconnectStorm;
    lines.push(
      `broker restart  down ${s.downS} s; all back after ${s.allBackMs ?? 'never'} ms (${s.back}/${r.devices}); ${s.totalAttempts} attempts, peak ${s.peak}/s, mean ${s.mean}/s, peak/mean ${s.peakToMean}`,
    );
    lines.push(`  attempts per second: ${s.attemptsPerSecond.join(' ')}`);
  }
  lines.push(
    `memory       edges: rss peak ${r.memory.rssPeakMb} MB, end ${r.memory.rssEndMb} MB (≈${r.memory.perEdgeKb} KB per edge), heap ${r.memory.heapUsedEndMb} MB; all processes: ${r.memory.totalRssPeakMb} MB peak`,
  );
  for (const p of r.memory.processes)
    lines.push(
      `  ${p.role.padEnd(14)} pid ${p.pid ?? '-'}: rss ${p.rssMb ?? '-'} MB, peak ${p.rssPeakMb ?? '-'} MB, ${p.fds ?? '-'} fds`,
    );
  for (const w of r.workers.rows) {
    lines.push(
      `worker ${w.worker}     ${w.runtime}: ${w.online}/${w.edges} online, paired ${w.paired} in ${w.pairingMs} ms, connect p50 ${w.connect.p50} ms p99 ${w.connect.p99} ms, ${w.enqueued} sent${w.back === null ? '' : `, ${w.back} back (${w.stormAttempts} attempts)`}, ≈${w.memory.perEdgeKb} KB per edge`,
    );
  }
  lines.push(`took         ${Math.round(r.durationMs / 1000)} s`);
  for (const t of targets) lines.push(`target       ${t.met ? 'met   ' : 'MISSED'} ${t.target} (${t.actual})`);
  if (r.problems.length) lines.push(...r.problems.map((p) => `PROBLEM: ${p}`));
  return `${lines.join('\n')}\n`;
}
