/**
 * Bounded waiting. Every wait in the rig has a deadline and says what it waited for when it gives up, so a hung
 * device turns into a failed scenario with a reason instead of a rig that never finishes.
 */
import { sleep } from '../../common/time/sleep.js';
import { TimeoutError } from '../../common/time/timeout-error.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  what: string;
  signal?: AbortSignal;
}

/** Polls until `probe` returns a truthy value; the last probe error is quoted in the timeout message. */
export async function waitUntil<T>(probe: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(options.intervalMs ?? 200, Math.max(1, deadline - Date.now())), {
      signal: options.signal,
      onAbort: 'reject',
    });
  }
  throw new TimeoutError(
    `timed out after ${options.timeoutMs} ms waiting for ${options.what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

/** Races a promise against a deadline; the promise itself is not cancelled, so callers clean up what it owns. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
