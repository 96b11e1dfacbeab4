/** Scenario selection (`--only`, `--repeat`), the listing, and the fleet statistics. */
import { describe, expect, it } from 'vitest';
import { describeScenarios, selectScenarios, SelectionError } from '../../../src/hil/runner/select.js';
import { SCENARIOS } from '../../../src/hil/scenarios/index.js';
import type { Scenario } from '../../../src/hil/scenario-kit/types.js';
import { mapLimit, peakToMean, percentile, perSecond, summarize } from '../../../src/hil/fleet/stats.js';

const fake = (id: string): Scenario => ({ id, title: id, timeoutS: 1, run: async () => undefined });
const all = [fake('a'), fake('b'), fake('c')];

describe('scenario selection', () => {
  it('runs everything once by default', () => {
    expect(selectScenarios(all, undefined, 1).map((p) => p.scenario.id)).toEqual(['a', 'b', 'c']);
  });

  it('keeps the suite order for --only and repeats whole passes', () => {
    const planned = selectScenarios(all, ['c', 'a'], 2);
    expect(planned.map((p) => `${p.scenario.id}#${p.iteration}`)).toEqual(['a#1', 'c#1', 'a#2', 'c#2']);
  });

  it('refuses unknown ids and names the known ones', () => {
    expect(() => selectScenarios(all, ['a', 'zzz'], 1)).toThrow(SelectionError);
    expect(() => selectScenarios(all, ['zzz'], 1)).toThrow(/known: a, b, c/);
  });

  it('has unique ids in the real suite, each with a bounded timeout and a listing line', () => {
    const ids = SCENARIOS.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of SCENARIOS) expect(s.timeoutS).toBeGreaterThan(0);
    expect(describeScenarios(SCENARIOS).split('\n')).toHaveLength(SCENARIOS.length);
  });
});

describe('fleet statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBeNull();
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50: 2, p90: 3, p99: 3, max: 3 });
  });

  it('buckets per second with empty seconds', () => {
    expect(perSecond([1000, 1500, 3200], 1000, 4000)).toEqual([2, 0, 1]);
  });

  it('measures peak against the mean of active seconds', () => {
    expect(peakToMean([6, 0, 2, 0, 1])).toEqual({ peak: 6, mean: 3, ratio: 2 });
    expect(peakToMean([0, 0])).toEqual({ peak: 0, mean: 0, ratio: null });
  });

  it('bounds concurrency and keeps order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });
});
