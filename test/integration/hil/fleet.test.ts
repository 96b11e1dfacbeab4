/** `consystence-hil fleet` as a child process: 20 real runtimes, a short stream and a broker restart. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

describe('consystence-hil fleet', () => {
  it('pairs and connects 20 edges, streams, survives a broker restart and reports figures', async () => {
    const json = join(tempDir('cst-hil-fleet-it-'), 'fleet.json');
    const result = await runToEnd(process.execPath, ['src/hil/bin.mjs', 'fleet', '--devices', '20', '--rate', '20', '--duration-s', '2', '--restart-broker', '--down-s', '1', '--json', json], { timeoutMs: 240_000 });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/connect\s+p50 \d+ ms/);
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
