/**
 * The fleet's worker processes as one unit: start them, send a phase's command to all at once (each bounded by
 * a deadline and by the run's abort signal), and stop them all. A process 'exit' hook SIGKILLs any worker still
 * alive if the parent leaves without `close()` (an uncaught error, `process.exit`): the hook is this pool's own
 * and is removed by `close()`, so nothing global outlives the run.
 */
import { WorkerClient, type WorkerRuntime } from './worker-client.js';
import type { Replies, WorkerRequest } from './protocol.js';
import type { z } from 'zod';

/** Time a worker gets to stop its edges (SQLite close, MQTT end) before SIGKILL. */
const CLOSE_GRACE_MS = 20_000;

/** How a fleet of `devices` is split: as even as possible, the first workers taking the remainder. */
export function shardSizes(devices: number, workers: number): number[] {
  const base = Math.floor(devices / workers);
  return Array.from({ length: workers }, (_, i) => base + (i < devices % workers ? 1 : 0));
}

export class WorkerPool {
  readonly workers: WorkerClient[];
  private readonly onExit = () => this.workers.forEach((w) => w.killNow());

  constructor(
    count: number,
    runtime: WorkerRuntime,
    maxOldSpaceMb: number,
    private readonly signal: AbortSignal,
    progress: (text: string) => void,
  ) {
    this.workers = Array.from({ length: count }, (_, i) => new WorkerClient(i, runtime, maxOldSpaceMb, progress));
    process.once('exit', this.onExit);
  }

  /** Sends `request(worker)` to every worker in parallel; rejects on the first failure, timeout or abort. */
  all<C extends WorkerRequest['cmd']>(
    request: (w: WorkerClient) => Extract<WorkerRequest, { cmd: C }>,
    timeoutMs: number,
  ): Promise<Array<z.infer<(typeof Replies)[C]>>> {
    return this.abortable(Promise.all(this.workers.map((w) => w.call(request(w), timeoutMs))));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close(CLOSE_GRACE_MS)));
    process.off('exit', this.onExit);
  }

  private abortable<T>(promise: Promise<T>): Promise<T> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(this.signal.reason as Error);
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => this.signal.removeEventListener('abort', onAbort));
    });
  }
}
