/**
 * Fleet: runs scripts/bench/fleet.ts (owned by the HIL engineer: `consystence-hil fleet`, N simulated edges of the
 * real runtime library against one mock site server, then a broker restart and the reconnect storm) with the
 * preset's sizes (quick: 100; full: 1 000, 5 000, 10 000), under `ulimit -n 65536` (10 000 edges hold ~4 fds
 * each), and folds its JSON into the summary. If the script does not exist the result says "not available".
 * Single runs per size: these rows have n = 1.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runToEnd, TSX_LOADER } from './lib/proc.js';
import type { BenchResult, Preset } from './lib/result.js';
import { summarize, target, type TableRow, type Target } from './lib/stats.js';

interface FleetJson {
  sizes: number[];
  rows: Array<{ devices: number; ok: boolean; report: Record<string, any> | null; note?: string }>;
}

export async function fleetBench(preset: Preset, out: string, log: (t: string) => void): Promise<BenchResult> {
  const title = 'Fleet: simulated edges against the mock site server, and the reconnect storm after a broker restart';
  const script = join(ROOT, 'scripts/bench/fleet.ts');
  if (!existsSync(script)) {
    return {
      name: 'fleet',
      title,
      tables: [],
      targets: [],
      notes: [],
      unavailable: 'not available: scripts/bench/fleet.ts does not exist yet (HIL engineer)',
    };
  }
  const file = join(out, 'fleet-raw.json');
  rmSync(file, { force: true });
  const sizes = preset.fleetSizes.join(',');
  log(`  fleet.ts --sizes ${sizes} …`);
  const command = [process.execPath, ...TSX_LOADER, script, '--sizes', sizes, '--out', file]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const run = await runToEnd('/bin/sh', ['-c', `ulimit -n 65536 2>/dev/null || true; exec ${command}`], {
    timeoutMs: preset.name === 'quick' ? 240_000 : 3 * 3600_000,
  });
  for (const line of run.stdout.trim().split('\n').slice(-25)) log(`    ${line}`);
  if (!existsSync(file)) {
    return {
      name: 'fleet',
      title,
      tables: [],
      targets: [],
      notes: [],
      unavailable: `failed: fleet.ts wrote no JSON (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
  const json = JSON.parse(readFileSync(file, 'utf8')) as FleetJson;
  const rows: TableRow[] = [];
  const targets: Target[] = [];
  const notes: string[] = [
    'one run per size (n = 1); edges are the real runtime library (createEdgeRuntime + EdgeSession + DataPlane), many per worker process',
  ];
  const one = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? summarize([v]) : null);
  for (const { devices, report, note } of json.rows) {
    if (!report) {
      notes.push(`${devices} edges: ${note ?? 'no report'}`);
      continue;
    }
    const storm = report.reconnectStorm ?? {};
    rows.push(
      { case: `${devices} edges: connected`, summary: one(report.connect?.online), unit: 'edges' },
      { case: `${devices} edges: connect p50`, summary: one(report.connect?.p50), unit: 'ms' },
      { case: `${devices} edges: connect p99`, summary: one(report.connect?.p99), unit: 'ms' },
      { case: `${devices} edges: broker restart → all back`, summary: one(storm.allBackMs), unit: 'ms' },
      { case: `${devices} edges: reconnect attempts peak / mean`, summary: one(storm.peakToMean), unit: '×' },
      {
        case: `${devices} edges: RSS peak (the workers holding the edges)`,
        summary: one(report.memory?.rssPeakMb),
        unit: 'MB',
      },
      {
        case: `${devices} edges: RSS peak, all processes (cloud, site server, workers)`,
        summary: one((report.memory as { totalRssPeakMb?: number } | undefined)?.totalRssPeakMb),
        unit: 'MB',
      },
      { case: `${devices} edges: RSS per edge`, summary: one(report.memory?.perEdgeKb), unit: 'KB' },
    );
    targets.push(
      target(
        `${devices} edges: share connected`,
        typeof report.connect?.online === 'number' ? report.connect.online / devices : null,
        1,
        '',
        'min',
      ),
    );
    if (devices === 1000) {
      targets.push(target('1000 edges: all back after a broker restart', storm.allBackMs ?? null, 30_000, 'ms', 'max'));
      targets.push(target('1000 edges: reconnect peak / mean attempt rate', storm.peakToMean ?? null, 3, '×', 'max'));
    }
  }
  return {
    name: 'fleet',
    title,
    tables: rows.length ? [{ title: 'fleet (single runs; no baseline: absolute figures)', rows }] : [],
    targets,
    notes,
    extra: { fleet: json },
  };
}
