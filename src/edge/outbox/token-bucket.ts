/**
 * A token bucket: `burst` messages at once, then `perSecond` on average. Used to pace the replay of a backlog
 * after a reconnect, so a whole site powering up does not flood the server with days of buffered data at once.
 */
export interface Rate {
  perSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: Rate,
    // Monotonic time: pacing must not stall or burst when the wall clock is corrected.
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) throw new RangeError('rate needs perSecond > 0 and burst >= 1');
    this.tokens = rate.burst;
    this.last = now();
  }

  /** Takes one token and returns 0, or returns how many ms until one is available (taking nothing). */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.last) * this.rate.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.rate.perSecond);
  }
}
