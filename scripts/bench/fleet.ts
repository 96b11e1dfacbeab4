/**
 * Fleet benchmark (issue 8 targets): `consystence-hil fleet` at 1 000, 5 000 and 10 000 simulated edges (the real
 * runtime library, many per process) against one mock site server, each size in a fresh child process so memory
 * figures do not carry over. Checks the targets and prints a table:
 *   - every edge connected, at every size (10 000 is the target);
 *   - after a broker restart, 1 000 edges all back within 30 s with no second above 3× the mean attempt rate.
 *
 *   --quick        100 edges only (CI smoke, well under a minute)
 *   --sizes a,b    other sizes
 *   --out <path>   write every size's report as JSON
 *
 * 10 000 edges hold ~4 file descriptors each (SQLite db, WAL, shm, the MQTT socket): raise `ulimit -n` to
 * 50 000 or more first; the script says so when the limit is too low instead of failing half-way.
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
const FDS_PER_EDGE = 4;

function fdLimit(): number | null {
  const result = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number.parseInt(result.stdout.trim(), 10);
  return Number.isFinite(n) ? n : null;
}

interface Row { devices: number; ok: boolean; report: Record<string, any> | null; note?: string }
const rows: Row[] = [];
const work = mkdtempSync(join(tmpdir(), 'cst-bench-fleet-'));
try {
  for (const devices of sizes) {
    const limit = fdLimit();
    if (limit !== null && limit < devices * FDS_PER_EDGE + 1000) {
      rows.push({ devices, ok: false, report: null, note: `skipped: ulimit -n is ${limit}, ${devices} edges need about ${devices * FDS_PER_EDGE + 1000}` });
      console.log(`fleet ${devices}: ${rows.at(-1)!.note}`);
      continue;
    }
    const json = join(work, `fleet-${devices}.json`);
    // Rate scales with the fleet (one message per edge every 10 s), the duration stays short.
    const rate = Math.max(10, Math.round(devices / 10));
    console.log(`fleet ${devices}: running (rate ${rate} msg/s)…`);
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--max-old-space-size=8192', 'src/hil/bin.mjs', 'fleet', '--devices', String(devices), '--rate', String(rate), '--duration-s', '10',
      '--restart-broker', '--down-s', '3', '--pair-concurrency', '16', '--settle-timeout-s', '600', '--json', json], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 3 * 3600_000 });
    let report: Record<string, any> | null = null;
    try {
      report = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      // no report: the run died; noted below
    }
    rows.push({ devices, ok: result.status === 0, report, ...(report ? {} : { note: `no report (exit ${result.status}, signal ${result.signal}) after ${Math.round((Date.now() - started) / 1000)} s` }) });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
console.log('\n| edges | connected | connect p50/p99 ms | msg/s in | broker restart: all back ms | attempts peak/mean | RSS peak MB | KB/edge |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { devices, report, note } of rows) {
  if (!report) {
    console.log(`| ${devices} | ${note} | | | | | | |`);
    continue;
  }
  const s = report.reconnectStorm;
  console.log(`| ${devices} | ${report.connect.online}/${devices} | ${cell(report.connect.p50)}/${cell(report.connect.p99)} | ${report.telemetry.receiveRate} | ${cell(s?.allBackMs)} | ${cell(s?.peak)}/${cell(s?.mean)} (${cell(s?.peakToMean)}×) | ${report.memory.rssPeakMb} | ${report.memory.perEdgeKb} |`);
}

// The targets, judged only where the size ran.
const verdicts: string[] = [];
for (const { devices, report } of rows) {
  if (!report) continue;
  verdicts.push(`${report.connect.online === devices ? 'MET ' : 'MISS'} ${devices}: every edge connected`);
  if (devices === 1000 && report.reconnectStorm) {
    const s = report.reconnectStorm;
    verdicts.push(`${s.allBackMs !== null && s.allBackMs <= 30_000 ? 'MET ' : 'MISS'} 1000: all back within 30 s after a broker restart (${cell(s.allBackMs)} ms)`);
    verdicts.push(`${s.peakToMean !== null && s.peakToMean <= 3 ? 'MET ' : 'MISS'} 1000: no second above 3× the mean attempt rate (peak/mean ${cell(s.peakToMean)})`);
  }
}
console.log(`\n${verdicts.join('\n')}`);
if (outPath) writeFileSync(outPath, `${JSON.stringify({ sizes, rows }, null, 2)}\n`);
process.exit(rows.every((r) => r.ok) ? 0 : 1);
