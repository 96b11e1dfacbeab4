/**
 * Retries one cloud operation: retryable failures (network, timeout, cut body, 429, 5xx) wait a jittered,
 * capped, Retry-After-honouring delay; anything else ends at once. The caller's attempt must be replay-safe
 * (register-edge is, through its Idempotency-Key).
 */
import { sleep } from '../../common/time/sleep.js';
import { Backoff, type BackoffPolicy, type Random } from '../backoff.js';
import { CloudCallError } from './http.js';

export interface RetryOptions {
  policy: BackoffPolicy;
  maxAttempts: number;
  random?: Random;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export const PAIRING_RETRY_POLICY: BackoffPolicy = { baseMs: 1000, capMs: 30_000, minMs: 250, maxHintMs: 120_000 };

export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = new Backoff(options.policy, options.random);
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof CloudCallError) || !error.retryable || n >= options.maxAttempts || options.signal?.aborted)
        throw error;
      const delayMs = backoff.next(error.extra.retryAfterMs ?? null);
      options.onRetry?.({ attempt: n, delayMs, reason: error.message });
      await sleep(delayMs, { signal: options.signal });
    }
  }
}
