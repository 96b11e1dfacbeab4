/**
 * The one sleep. Without a signal it is a plain timer. With a signal, abort always ends the sleep at once and
 * clears the timer; what the caller sees is chosen by `onAbort`, because two kinds of caller need different things:
 *
 * - `'resolve'` (default): the sleep just ends early. For loops that check their own stop flag after every wait
 *   (the device's retry and backoff: shutdown must not wait out a 60 s backoff, and is not an error).
 * - `'reject'`: the sleep rejects with `signal.reason`. For waits that must stop their caller where it stands
 *   (a rig scenario that is cancelled mid-step).
 */
export interface SleepOptions {
  signal?: AbortSignal;
  onAbort?: 'resolve' | 'reject';
}

export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, onAbort = 'resolve' } = options;
  return new Promise((resolve, reject) => {
    const aborted = () => (onAbort === 'reject' ? reject(signal!.reason as Error) : resolve());
    if (signal?.aborted) return aborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    function abort() {
      clearTimeout(timer);
      aborted();
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
