/**
 * Folds the workers' per-edge figures into fleet-wide ones (pure, unit tested). Percentiles are computed over
 * every edge's raw value, never averaged from per-worker percentiles (which would be wrong). Attempt series are
 * bucketed per worker against the same wall-clock origin (the broker restart), then summed second by second,
 * so second i is the same real second for every worker.
 */
import { peakToMean, percentile, perSecond, summarize } from './stats.js';

export type Distribution = ReturnType<typeof summarize> & { p95: number | null };

export function distribution(values: readonly number[]): Distribution {
  return { ...summarize(values), p95: percentile(values, 95) };
}

/** Element-wise sum of series that share an origin; shorter series count as zeros past their end. */
export function sumSeries(series: ReadonlyArray<readonly number[]>): number[] {
  const length = Math.max(0, ...series.map((s) => s.length));
  const total = new Array<number>(length).fill(0);
  for (const s of series) s.forEach((v, i) => (total[i]! += v));
  return total;
}

/** The moment everyone got there, relative to `origin`: null as soon as one worker did not get there. */
function allAfter(times: ReadonlyArray<number | null>, origin: number): number | null {
  if (!times.length || times.some((t) => t === null)) return null;
  return Math.max(...(times as number[])) - origin;
}

export interface WorkerConnect {
  online: number;
  allOnlineAt: number | null;
  connectMs: readonly number[];
}

export function aggregateConnect(
  workers: readonly WorkerConnect[],
  startAt: number,
): Distribution & { online: number; allOnlineMs: number | null } {
  return {
    ...distribution(workers.flatMap((w) => w.connectMs)),
    online: workers.reduce((n, w) => n + w.online, 0),
    allOnlineMs: allAfter(
      workers.map((w) => w.allOnlineAt),
      startAt,
    ),
  };
}

export interface WorkerStorm {
  back: number;
  allBackAt: number | null;
  attempts: readonly number[];
  backAt: readonly number[];
}

export interface StormAggregate {
  attemptsPerSecond: number[];
  perWorkerAttemptsPerSecond: number[][];
  totalAttempts: number;
  peak: number;
  mean: number;
  peakToMean: number | null;
  allBackMs: number | null;
  back: number;
  timeToBack: ReturnType<typeof summarize>;
}

export function aggregateStorm(workers: readonly WorkerStorm[], restartAt: number, endAt: number): StormAggregate {
  const perWorker = workers.map((w) => perSecond(w.attempts, restartAt, endAt));
  const attemptsPerSecond = sumSeries(perWorker);
  const shape = peakToMean(attemptsPerSecond);
  return {
    attemptsPerSecond,
    perWorkerAttemptsPerSecond: perWorker,
    totalAttempts: workers.reduce((n, w) => n + w.attempts.length, 0),
    peak: shape.peak,
    mean: shape.mean,
    peakToMean: shape.ratio,
    allBackMs: allAfter(
      workers.map((w) => w.allBackAt),
      restartAt,
    ),
    back: workers.reduce((n, w) => n + w.back, 0),
    timeToBack: summarize(workers.flatMap((w) => w.backAt.map((t) => t - restartAt))),
  };
}
