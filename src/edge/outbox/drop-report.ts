/**
 * Rate-limited logging of dropped rows. A full buffer drops on every insert; one log line per insert would fill
 * the very disk the bound protects. Counts accumulate and are written at most once per interval.
 */
import type { Logger } from '../../common/log/log.js';

export type DropReason = 'size' | 'retention';

export class DropReport {
  private readonly pending: Record<DropReason, number> = { size: 0, retention: 0 };
  private lastLogAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    // Monotonic on purpose: the wall clock of an edge may jump by years when it is corrected.
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  add(reason: DropReason, count: number, totalDropped: number): void {
    if (count <= 0) return;
    this.pending[reason] += count;
    const now = this.monotonicNow();
    if (now - this.lastLogAt < this.intervalMs) return;
    this.lastLogAt = now;
    this.logger.warn('outbox.dropped', {
      bySize: this.pending.size,
      byRetention: this.pending.retention,
      totalDropped,
    });
    this.pending.size = 0;
    this.pending.retention = 0;
  }
}
