/**
 * One backoff for everything that retries (pairing, token refresh, MQTT reconnect): capped exponential with
 * full jitter (AWS "Exponential Backoff and Jitter"), so a site power-up does not make a fleet retry in step,
 * and a server hint (HTTP Retry-After) is honoured as a lower bound, itself capped so a bad header cannot
 * park a device for a day.
 */
export interface BackoffPolicy {
  /** The first ceiling; attempt n draws from [minMs, min(capMs, baseMs * 2^n)]. */
  baseMs: number;
  capMs: number;
  /** A floor, so a retry is never immediate (0 allowed). */
  minMs?: number;
  /** The longest server hint we obey. */
  maxHintMs?: number;
}

export type Random = () => number;

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  options: { hintMs?: number | null; random?: Random } = {},
): number {
  const random = options.random ?? Math.random;
  const min = Math.min(policy.minMs ?? 0, policy.capMs);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = min + random() * Math.max(0, ceiling - min);
  const hint = options.hintMs ?? null;
  if (hint === null || !(hint > 0)) return Math.round(jittered);
  return Math.round(Math.max(jittered, Math.min(hint, policy.maxHintMs ?? policy.capMs)));
}

/**
 * Parses Retry-After (RFC 9110: delay-seconds or an HTTP-date) into milliseconds from `nowMs`. Null when absent
 * or unparseable: a malformed hint is ignored rather than trusted.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | null {
  if (!header) return null;
  const text = header.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  // Only an IMF-fixdate-like text counts as a date: Date.parse would read '-1' as a year.
  if (!/^[A-Za-z]{3},? /.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** A stateful sequence of delays with reset, for loops that retry until they succeed. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: Random = Math.random,
  ) {}
  next(hintMs?: number | null): number {
    return backoffDelay(this.attempt++, this.policy, { hintMs: hintMs ?? null, random: this.random });
  }
  reset(): void {
    this.attempt = 0;
  }
  get attempts(): number {
    return this.attempt;
  }
}
