/**
 * Fleet benchmark (issue 8 targets): `consystence-hil fleet` at 1 000, 5 000 and 10 000 simulated edges (the real
 * runtime library, sharded over worker processes) against one mock site server, each size in a fresh child
 * process so memory figures do not carry over. Checks the targets and prints a table:
 *   - every edge connected, at every size (10 000 is the target);
 *   - after a broker restart, 1 000 edges all back within 30 s with no second above 3× the mean attempt rate.
 *
 *   --quick          100 edges only (CI smoke, well under a minute)
 *   --sizes a,b      other sizes
 *   --workers N      worker processes per size (default: the fleet's own, one per 3 000 edges)
 *   --out <path>     write every size's report as JSON
 *
 * Each edge holds ~4 file descriptors (SQLite db, WAL, shm, the MQTT socket), so one process with 10 000 edges
 * would need ~41 000; sharding keeps each worker near 12 000, and the site server holds one socket per edge.
 * A size is skipped, with the reason, when a worker's share or the site server would not fit under `ulimit -n`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = args.includes('--quick');
const sizes = (flag('--sizes') ?? (quick ? '100' : '1000,5000,10000')).split(',').map((s) => Number.parseInt(s, 10));
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: tsx scripts/bench/fleet.ts [--quick] [--sizes 1000,5000] [--out file.json]');
  process.exit(2);
}
const outPath = flag('--out');
const workersFlag = flag('--workers');
const FDS_PER_EDGE = 4;
/** As `consystence-hil fleet`'s default (src/hil/cli/fleet-args.ts EDGES_PER_WORKER). */
const EDGES_PER_WORKER = 3000;
/** The whole run per size (every phase of 10 000 edges included); past it the fleet stops and cleans up. */
const TIMEOUT_S = 2400;

function fdLimit(): number | null {
  const result = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number.parseInt(result.stdout.trim(), 10);
  return Number.isFinite(n) ? n : null;
}

interface Row {
  devices: number;
  ok: boolean;
  report: Record<string, any> | null;
  note?: string;
}
const rows: Row[] = [];
const work = mkdtempSync(join(tmpdir(), 'cst-bench-fleet-'));
try {
  for (const devices of sizes) {
    const limit = fdLimit();
    const workers = workersFlag ? Number.parseInt(workersFlag, 10) : Math.ceil(devices / EDGES_PER_WORKER);
    // The busiest process: a worker's share of edges (4 fds each) or the site server (a socket per edge).
    const needed = Math.max(Math.ceil(devices / workers) * FDS_PER_EDGE, devices) + 1000;
    if (limit !== null && limit < needed) {
      rows.push({
        devices,
        ok: false,
        report: null,
        note: `skipped: ulimit -n is ${limit}, ${devices} edges over ${workers} worker(s) need about ${needed} in one process`,
      });
      console.log(`fleet ${devices}: ${rows.at(-1)!.note}`);
      continue;
    }
    const json = join(work, `fleet-${devices}.json`);
    // Rate scales with the fleet (one message per edge every 10 s), the duration stays short.
    const rate = Math.max(10, Math.round(devices / 10));
    console.log(`fleet ${devices}: running (rate ${rate} msg/s)…`);
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      [
        '--max-old-space-size=8192',
        'src/hil/bin.mjs',
        'fleet',
        '--devices',
        String(devices),
        '--rate',
        String(rate),
        '--duration-s',
        '10',
        '--restart-broker',
        '--down-s',
        '3',
        '--pair-concurrency',
        '16',
        '--settle-timeout-s',
        '600',
        '--workers',
        String(workers),
        '--timeout-s',
        String(TIMEOUT_S),
        '--json',
        json,
      ],
      // The fleet bounds itself with --timeout-s; this outer bound only catches a parent that cannot stop.
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: (TIMEOUT_S + 120) * 1000, killSignal: 'SIGINT' },
    );
    let report: Record<string, any> | null = null;
    try {
      report = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      // no report: the run died; noted below
    }
    rows.push({
      devices,
      ok: result.status === 0,
      report,
      ...(report
        ? {}
        : {
            note: `no report (exit ${result.status}, signal ${result.signal}) after ${Math.round((Date.now() - started) / 1000)} s`,
          }),
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
const sec = (ms: unknown) => (typeof ms === 'number' ? (ms / 1000).toFixed(1) : '-');
console.log(
  '\n| edges | workers | pairing s | connected | connect p50/p95/p99 ms | all online s | msg/s in | broker restart: all back s | attempts peak/mean | RSS peak MB: parent / site / workers = total | KB/edge | site fds |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { devices, report, note } of rows) {
  if (!report) {
    console.log(`| ${devices} | | | ${note} | | | | | | | | |`);
    continue;
  }
  const s = report.reconnectStorm;
  const procs: Array<{ role: string; rssPeakMb: number | null; fds: number | null }> = report.memory.processes ?? [];
  const peakOf = (role: string) => cell(procs.find((p) => p.role === role)?.rssPeakMb);
  const workersRss = procs
    .filter((p) => p.role.startsWith('worker'))
    .map((p) => cell(p.rssPeakMb))
    .join('+');
  console.log(
    `| ${devices} | ${cell(report.workers?.count)} | ${sec(report.pairing.durationMs)} | ${report.connect.online}/${devices} | ${cell(report.connect.p50)}/${cell(report.connect.p95)}/${cell(report.connect.p99)} | ${sec(report.connect.allOnlineMs)} | ${report.telemetry.receiveRate} | ${sec(s?.allBackMs)} | ${cell(s?.peak)}/${cell(s?.mean)} (${cell(s?.peakToMean)}×) | ${peakOf('parent (cloud)')} / ${peakOf('site server')} / ${workersRss} = ${cell(report.memory.totalRssPeakMb)} | ${report.memory.perEdgeKb} | ${cell(procs.find((p) => p.role === 'site server')?.fds)} |`,
  );
}

// The targets, judged only where the size ran.
const verdicts: string[] = [];
for (const { devices, report } of rows) {
  if (!report) continue;
  verdicts.push(`${report.connect.online === devices ? 'MET ' : 'MISS'} ${devices}: every edge connected`);
  if (devices === 1000 && report.reconnectStorm) {
    const s = report.reconnectStorm;
    verdicts.push(
      `${s.allBackMs !== null && s.allBackMs <= 30_000 ? 'MET ' : 'MISS'} 1000: all back within 30 s after a broker restart (${cell(s.allBackMs)} ms)`,
    );
    verdicts.push(
      `${s.peakToMean !== null && s.peakToMean <= 3 ? 'MET ' : 'MISS'} 1000: no second above 3× the mean attempt rate (peak/mean ${cell(s.peakToMean)})`,
    );
  }
}
console.log(`\n${verdicts.join('\n')}`);
if (outPath) writeFileSync(outPath, `${JSON.stringify({ sizes, rows }, null, 2)}\n`);
process.exit(rows.every((r) => r.ok) ? 0 : 1);
