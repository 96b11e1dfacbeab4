/**
 * The mock cloud's notion of "now". A rig can shift it (fault `clock`) to rehearse a device whose clock is
 * wrong relative to the cloud: the offset moves the `Date` header, `serverTime` and every token's iat/exp, and
 * the expiry checks of codes, idempotency records and incoming tokens, so the cloud stays self-consistent.
 */
export class Clock {
  private offsetSeconds = 0;

  nowMs(): number {
    return Date.now() + this.offsetSeconds * 1000;
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
  iso(): string {
    return this.now().toISOString();
  }
  get offset(): number {
    return this.offsetSeconds;
  }
  setOffset(seconds: number): void {
    this.offsetSeconds = seconds;
  }
}
