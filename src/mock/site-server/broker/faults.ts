/**
 * Faults a rig can switch on through the control API (embedded broker only). The state is owned by one broker
 * instance, never global, and `reset()` returns it to "no faults".
 */
export type RefusalCode = 1 | 2 | 3 | 4 | 5;

export interface FaultSnapshot {
  refuseConnects: { remaining: number; returnCode: RefusalCode } | null;
  pausedUntil: string | null;
  listener: 'running' | 'stopped';
}

export class FaultState {
  private refusal: { remaining: number; returnCode: RefusalCode } | null = null;
  private pauseEnds = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  private waiting: Array<() => void> = [];

  refuseNextConnects(count: number, returnCode: RefusalCode): void {
    this.refusal = count > 0 ? { remaining: count, returnCode } : null;
  }

  /** Consumes one planned refusal, if any. */
  takeConnectRefusal(): RefusalCode | undefined {
    if (!this.refusal) return undefined;
    const code = this.refusal.returnCode;
    if (--this.refusal.remaining <= 0) this.refusal = null;
    return code;
  }

  /** Holds inbound edge publishes (no PUBACK, no routing) for `ms`, as a stalled broker would. */
  pause(ms: number): void {
    this.pauseEnds = Math.max(this.pauseEnds, Date.now() + ms);
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => this.release(), Math.max(0, this.pauseEnds - Date.now()));
  }

  /** Resolves at once when not paused, else when the pause ends (or is reset). */
  whenDelivering(): Promise<void> | undefined {
    if (Date.now() >= this.pauseEnds) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  reset(): void {
    this.refusal = null;
    this.release();
  }

  snapshot(listener: 'running' | 'stopped'): FaultSnapshot {
    return {
      refuseConnects: this.refusal ? { ...this.refusal } : null,
      pausedUntil: Date.now() < this.pauseEnds ? new Date(this.pauseEnds).toISOString() : null,
      listener,
    };
  }

  private release(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    this.pauseEnds = 0;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}
