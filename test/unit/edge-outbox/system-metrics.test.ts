/** The metrics source against fake /proc and /sys trees (real files in a temp dir), and against an empty tree. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SystemMetrics } from '../../../src/edge/metrics/index.js';
import { TelemetryRecord } from '../../../src/protocol/messages.js';
import { tempDir } from '../../helpers/tmp.js';

function fakeRoots(cpuLine: string) {
  const root = tempDir();
  const proc = join(root, 'proc');
  const sys = join(root, 'sys');
  mkdirSync(proc, { recursive: true });
  writeFileSync(join(proc, 'stat'), `${cpuLine}\ncpu0 1 2 3 4\n`);
  writeFileSync(join(proc, 'meminfo'), 'MemTotal:       8000000 kB\nMemFree:  100 kB\nMemAvailable:   6000000 kB\n');
  writeFileSync(join(proc, 'loadavg'), '0.50 0.40 0.30 1/200 1234\n');
  writeFileSync(join(proc, 'uptime'), '12345.67 999.00\n');
  for (const [i, type, milli] of [
    [0, 'CPU-therm', '45500'],
    [1, 'GPU-therm', 'garbage'],
  ] as const) {
    const zone = join(sys, 'class/thermal', `thermal_zone${i}`);
    mkdirSync(zone, { recursive: true });
    writeFileSync(join(zone, 'type'), `${type}\n`);
    writeFileSync(join(zone, 'temp'), `${milli}\n`);
  }
  return { root, proc, sys };
}

describe('SystemMetrics', () => {
  it('samples every source into valid telemetry records with system.* tags', async () => {
    const { root, proc, sys } = fakeRoots('cpu  100 0 100 800 0 0 0 0 0 0');
    const metrics = new SystemMetrics({
      sink: async () => {},
      stateDir: root,
      paths: { procRoot: proc, sysRoot: sys },
      clock: { now: () => Date.parse('2026-03-01T00:00:00Z') },
    });
    const first = await metrics.sample();
    expect(first.map((r) => r.tag)).not.toContain('system.cpu.percent'); // needs two readings
    writeFileSync(join(proc, 'stat'), 'cpu  150 0 150 900 0 0 0 0 0 0\n'); // +100 busy, +100 idle → 50 %
    const records = await metrics.sample();
    const byTag = Object.fromEntries(records.map((r) => [r.tag, r.value]));
    expect(byTag).toMatchObject({
      'system.cpu.percent': 50,
      'system.mem.used_bytes': 2_000_000 * 1024,
      'system.mem.total_bytes': 8_000_000 * 1024,
      'system.load.1m': 0.5,
      'system.uptime_s': 12345.67,
      'system.temp.cpu-therm': 45.5,
    });
    expect(byTag['system.disk.used_percent']).toBeGreaterThanOrEqual(0);
    expect(Object.keys(byTag)).not.toContain('system.temp.gpu-therm'); // unreadable sensor skipped
    for (const r of records) expect(TelemetryRecord.safeParse(r).success).toBe(true);
  });

  it('skips missing sources silently (a container without /proc or /sys)', async () => {
    const empty = tempDir();
    const metrics = new SystemMetrics({
      sink: async () => {},
      stateDir: join(empty, 'missing'),
      paths: { procRoot: join(empty, 'p'), sysRoot: join(empty, 's') },
    });
    expect(await metrics.sample()).toEqual([]);
  });

  it('sends samples to the sink on its interval and survives a failing sink', async () => {
    const { root, proc, sys } = fakeRoots('cpu  1 0 1 8 0 0 0 0');
    const batches: TelemetryRecord[][] = [];
    let calls = 0;
    const metrics = new SystemMetrics({
      sink: async (records) => {
        calls += 1;
        if (calls === 1) throw new Error('outbox closed');
        batches.push(records);
      },
      stateDir: root,
      intervalSeconds: 1,
      paths: { procRoot: proc, sysRoot: sys },
    });
    expect(() => metrics.setInterval(0)).toThrow(RangeError);
    metrics.start();
    await new Promise((r) => setTimeout(r, 2_300));
    metrics.stop();
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(batches[0]!.some((r) => r.tag === 'system.mem.used_bytes')).toBe(true);
  });
});
