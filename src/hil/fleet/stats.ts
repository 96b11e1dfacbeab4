/** Small, pure statistics for the fleet report (unit tested): percentiles, per-second buckets, peak/mean. */

/** Nearest-rank percentile of `values` (0 < p ≤ 100); null for an empty list. */
export function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function summarize(values: readonly number[]): {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
} {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : null,
  };
}

/** Counts events per whole second since `startMs`, with empty seconds as zeros, up to `endMs`. */
export function perSecond(timestamps: readonly number[], startMs: number, endMs: number): number[] {
  const seconds = Math.max(1, Math.ceil((endMs - startMs) / 1000));
  const buckets = new Array<number>(seconds).fill(0);
  for (const t of timestamps) {
    const i = Math.floor((t - startMs) / 1000);
    if (i >= 0 && i < seconds) buckets[i]! += 1;
  }
  return buckets;
}

/**
 * The storm's shape: the busiest second against the mean over the seconds that had any attempts (quiet tail
 * seconds after everyone is back would otherwise flatter the ratio).
 */
export function peakToMean(buckets: readonly number[]): { peak: number; mean: number; ratio: number | null } {
  const active = buckets.filter((b) => b > 0);
  if (!active.length) return { peak: 0, mean: 0, ratio: null };
  const peak = Math.max(...active);
  const mean = active.reduce((a, b) => a + b, 0) / active.length;
  return { peak, mean: Math.round(mean * 100) / 100, ratio: Math.round((peak / mean) * 100) / 100 };
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
