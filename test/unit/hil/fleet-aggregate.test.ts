/** Fleet figures across workers: percentiles over every edge, attempt series summed by wall-clock second, shard sizes, flags. */
import { describe, expect, it } from 'vitest';
import { aggregateConnect, aggregateStorm, distribution, sumSeries } from '../../../src/hil/fleet/aggregate.js';
import { shardSizes } from '../../../src/hil/fleet/worker-pool.js';
import { parseFleetArgs } from '../../../src/hil/cli/fleet-args.js';

describe('fleet aggregation across workers', () => {
  it('takes percentiles over every edge, not over per-worker percentiles', () => {
    // Worker a: 90 fast edges; worker b: 10 slow ones. The median of medians would be 505; the fleet's p50 is 10.
    const a = { online: 90, allOnlineAt: 1_500, connectMs: Array.from({ length: 90 }, () => 10) };
    const b = { online: 10, allOnlineAt: 2_000, connectMs: Array.from({ length: 10 }, () => 1_000) };
    const all = aggregateConnect([a, b], 1_000);
    expect(all).toMatchObject({ count: 100, p50: 10, p90: 10, p95: 1_000, p99: 1_000, max: 1_000, online: 100 });
    expect(all.allOnlineMs).toBe(1_000);
  });

  it('reports no all-online time when one worker never got there', () => {
    const all = aggregateConnect(
      [
        { online: 2, allOnlineAt: 1_200, connectMs: [100, 200] },
        { online: 1, allOnlineAt: null, connectMs: [300] },
      ],
      1_000,
    );
    expect(all.allOnlineMs).toBeNull();
    expect(all.online).toBe(3);
  });

  it('sums attempt series second by second; shorter series count as zeros', () => {
    expect(sumSeries([[1, 2, 3], [10], [0, 0, 0, 4]])).toEqual([11, 2, 3, 4]);
    expect(sumSeries([])).toEqual([]);
  });

  it('buckets each worker against the same restart time, then sums by wall-clock second', () => {
    const restartAt = 10_000;
    const w0 = { back: 2, allBackAt: 12_500, attempts: [10_100, 10_900, 12_100], backAt: [10_200, 12_500] };
    const w1 = {
      back: 1,
      allBackAt: 11_000,
      attempts: [9_000 /* before the restart: not counted */, 10_500, 11_999],
      backAt: [11_000],
    };
    const storm = aggregateStorm([w0, w1], restartAt, 13_000);
    expect(storm.perWorkerAttemptsPerSecond).toEqual([
      [2, 0, 1],
      [1, 1, 0],
    ]);
    expect(storm.attemptsPerSecond).toEqual([3, 1, 1]);
    expect(storm).toMatchObject({ totalAttempts: 6, peak: 3, back: 3, allBackMs: 2_500 });
    expect(storm.peakToMean).toBeCloseTo(3 / (5 / 3), 1);
    expect(storm.timeToBack).toMatchObject({ count: 3, p50: 1_000, max: 2_500 });
  });

  it('has no all-back time when a worker still misses edges', () => {
    const storm = aggregateStorm([{ back: 0, allBackAt: null, attempts: [], backAt: [] }], 0, 1_000);
    expect(storm).toMatchObject({ allBackMs: null, back: 0, peakToMean: null });
  });

  it('adds p95 to the summary', () => {
    expect(distribution(Array.from({ length: 100 }, (_, i) => i + 1))).toMatchObject({ p50: 50, p95: 95, p99: 99 });
  });
});

describe('fleet sharding', () => {
  it('splits edges as evenly as possible', () => {
    expect(shardSizes(30, 3)).toEqual([10, 10, 10]);
    expect(shardSizes(10_000, 4)).toEqual([2_500, 2_500, 2_500, 2_500]);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
  });

  it('defaults to one worker per 3 000 edges and bounds the flags', () => {
    expect(parseFleetArgs(['--devices', '20']).workers).toBe(1);
    expect(parseFleetArgs(['--devices', '10000']).workers).toBe(4);
    expect(parseFleetArgs(['--devices', '30', '--workers', '3', '--worker-runtime', 'node'])).toMatchObject({
      workers: 3,
      workerRuntime: 'node',
      timeoutS: 3600,
    });
    expect(() => parseFleetArgs(['--devices', '2', '--workers', '3'])).toThrow(/--workers/);
    expect(() => parseFleetArgs(['--devices', '2', '--worker-runtime', 'deno'])).toThrow(/--worker-runtime/);
    expect(() => parseFleetArgs(['--devices', '2', '--timeout-s', '1'])).toThrow(/--timeout-s/);
  });
});
