/** `consystence-hil fleet` as a child process: 20 real runtimes, a short stream and a broker restart. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

describe('consystence-hil fleet', () => {
  it('pairs and connects 20 edges, streams, survives a broker restart and reports figures', async () => {
    const dir = tempDir('cst-hil-fleet-it-');
    const json = join(dir, 'fleet.json');
    const junit = join(dir, 'fleet.xml');
    const result = await runToEnd(
      process.execPath,
      [
        'src/hil/bin.mjs',
        'fleet',
        '--devices',
        '20',
        '--rate',
        '20',
        '--duration-s',
        '2',
        '--restart-broker',
        '--down-s',
        '1',
        '--json',
        json,
        '--junit',
        junit,
      ],
      { timeoutMs: 240_000 },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/connect\s+p50 \d+ ms/);
    for (const target of ['all 20 edges paired', 'all 20 edges online within', 'none missing', 'broker restart'])
      expect(result.stdout).toMatch(new RegExp(`target\\s+met\\s+.*${target}`));
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="consystence-hil.fleet" tests="4" failures="0" errors="0"/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Record<string, any>;
    expect(report.ok).toBe(true);
    expect(report.connect).toMatchObject({ count: 20, online: 20 });
    expect(report.telemetry.enqueued).toBeGreaterThan(0);
    expect(report.telemetry.receivedAtSite).toBe(report.telemetry.enqueued);
    expect(report.telemetry.missing).toBe(0);
    expect(report.reconnectStorm).toMatchObject({ back: 20 });
    expect(report.reconnectStorm.attemptsPerSecond.length).toBeGreaterThan(0);
    expect(report.memory.rssPeakMb).toBeGreaterThan(0);
  });
});

describe('consystence-hil fleet --workers', () => {
  it('shards 30 edges over 3 worker processes and reports per-worker and total figures', async () => {
    const json = join(tempDir('cst-hil-fleet-sharded-'), 'fleet.json');
    const result = await runToEnd(
      process.execPath,
      [
        'src/hil/bin.mjs',
        'fleet',
        '--devices',
        '30',
        '--workers',
        '3',
        '--rate',
        '30',
        '--duration-s',
        '2',
        '--restart-broker',
        '--down-s',
        '1',
        '--timeout-s',
        '200',
        '--json',
        json,
      ],
      { timeoutMs: 240_000 },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Record<string, any>;
    expect(report.ok).toBe(true);
    expect(report.connect).toMatchObject({ count: 30, online: 30 });
    // Three distinct worker processes, ten edges each, every one of them online and back after the restart.
    expect(report.workers.count).toBe(3);
    expect(report.workers.rows.map((w: any) => [w.edges, w.online, w.back])).toEqual([
      [10, 10, 10],
      [10, 10, 10],
      [10, 10, 10],
    ]);
    expect(new Set(report.workers.rows.map((w: any) => w.pid)).size).toBe(3);
    // The totals are the workers' sums: edges' connect times and the storm's attempts, second by second.
    expect(report.workers.rows.reduce((n: number, w: any) => n + w.connect.count, 0)).toBe(report.connect.count);
    const storm = report.reconnectStorm;
    expect(storm.back).toBe(30);
    const summed = storm.attemptsPerSecond.map((_: number, i: number) =>
      storm.perWorkerAttemptsPerSecond.reduce((n: number, s: number[]) => n + (s[i] ?? 0), 0),
    );
    expect(storm.attemptsPerSecond).toEqual(summed);
    expect(storm.totalAttempts).toBe(report.workers.rows.reduce((n: number, w: any) => n + w.stormAttempts, 0));
    expect(report.telemetry.receivedAtSite).toBe(report.telemetry.enqueued);
    // Memory of every process: parent, site server and each worker.
    expect(report.memory.processes.map((p: any) => p.role)).toEqual([
      'parent (cloud)',
      'site server',
      'worker 0',
      'worker 1',
      'worker 2',
    ]);
    expect(report.memory.processes.every((p: any) => p.rssPeakMb > 0)).toBe(true);
    expect(report.memory.totalRssPeakMb).toBeGreaterThan(report.memory.rssPeakMb);
    expect(result.stdout).toMatch(/worker 2 .*10\/10 online/);
  });
});
