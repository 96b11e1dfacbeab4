/**
 * The outbox's SQL, and nothing else. Every method that writes must be called inside `db.transaction`: the
 * Outbox decides what one transaction contains (an insert batch and the drops it causes commit together).
 */
import type { Db, Statement } from '../../storage/db.js';
import type { OutboxChannel, OutboxEntry } from './types.js';

export interface NewRow {
  channel: OutboxChannel;
  enqueuedAt: number;
  ts: string;
  records: string;
  bytes: number;
}

export interface OutboxCounters {
  nextSeq: number;
  dropped: number;
  depth: number;
  bytes: number;
}

export interface Removed {
  count: number;
  bytes: number;
}

/** Rows read per step when freeing space, so one drop never loads an unbounded list into memory. */
const DROP_PAGE = 512;

export class OutboxStore {
  private readonly insertRow: Statement;
  private readonly readState: Statement<{ next_seq: number; dropped: number; depth: number; bytes: number }>;
  private readonly writeState: Statement;
  private readonly oldestPage: Statement<{ seq: number; bytes: number }>;
  private readonly deleteUpTo: Statement;
  private readonly expiredTotals: Statement<{ count: number; bytes: number }>;
  private readonly deleteExpired: Statement;
  private readonly rangeTotals: Statement<{ count: number; bytes: number }>;
  private readonly deleteRange: Statement;
  private readonly pageAfter: Statement<{ seq: number; channel: OutboxChannel; ts: string; payload: string }>;
  private readonly oldest: Statement<{ ts: string }>;

  constructor(db: Db) {
    this.insertRow = db.prepare(
      'INSERT INTO outbox (seq, channel, enqueued_at, ts, bytes, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.readState = db.prepare('SELECT next_seq, dropped, depth, bytes FROM outbox_state WHERE id = 1');
    this.writeState = db.prepare(
      'UPDATE outbox_state SET next_seq = ?, dropped = ?, depth = ?, bytes = ? WHERE id = 1',
    );
    this.oldestPage = db.prepare('SELECT seq, bytes FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.deleteUpTo = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    // Rows stamped before PLAUSIBLE_AFTER (a board without RTC, booted at 1970) are exempt: once the clock is
    // corrected they would all look decades old and be wiped, which is exactly the data an offline site needs.
    this.expiredTotals = db.prepare(
      'SELECT COUNT(*) AS count, COALESCE(SUM(bytes), 0) AS bytes FROM outbox WHERE enqueued_at < ? AND enqueued_at >= ?',
    );
    this.deleteExpired = db.prepare('DELETE FROM outbox WHERE enqueued_at < ? AND enqueued_at >= ?');
    this.rangeTotals = db.prepare(
      'SELECT COUNT(*) AS count, COALESCE(SUM(bytes), 0) AS bytes FROM outbox WHERE seq BETWEEN ? AND ?',
    );
    this.deleteRange = db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ?');
    this.pageAfter = db.prepare('SELECT seq, channel, ts, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.oldest = db.prepare('SELECT ts FROM outbox ORDER BY seq LIMIT 1');
  }

  /** The counters and the queue totals: one row, so opening the outbox costs the same at any backlog. */
  state(): OutboxCounters {
    const row = this.readState.get();
    // The migration inserts the row; its absence means the schema was tampered with, not a state to paper over.
    if (!row) throw new Error('outbox_state row missing: the outbox migration did not run');
    return {
      nextSeq: Number(row.next_seq),
      dropped: Number(row.dropped),
      depth: Number(row.depth),
      bytes: Number(row.bytes),
    };
  }

  /** Must run in the transaction that changed the rows, so the totals never disagree with the table. */
  saveState(counters: OutboxCounters): void {
    this.writeState.run(counters.nextSeq, counters.dropped, counters.depth, counters.bytes);
  }

  insert(seq: number, row: NewRow): void {
    this.insertRow.run(seq, row.channel, row.enqueuedAt, row.ts, row.bytes, row.records);
  }

  /** Deletes rows enqueued before `cutoffMs` (and not before `plausibleAfterMs`). */
  dropExpired(cutoffMs: number, plausibleAfterMs: number): Removed {
    const totals = this.expiredTotals.get(cutoffMs, plausibleAfterMs);
    const count = Number(totals?.count ?? 0);
    if (count === 0) return { count: 0, bytes: 0 };
    this.deleteExpired.run(cutoffMs, plausibleAfterMs);
    return { count, bytes: Number(totals?.bytes ?? 0) };
  }

  /** Deletes the oldest rows until at least `excessBytes` are freed (or the table is empty). */
  dropOldest(excessBytes: number): Removed {
    let count = 0;
    let bytes = 0;
    let after = 0;
    while (bytes < excessBytes) {
      const page = this.oldestPage.all(after, DROP_PAGE);
      if (page.length === 0) break;
      for (const row of page) {
        count += 1;
        bytes += Number(row.bytes);
        after = Number(row.seq);
        if (bytes >= excessBytes) break;
      }
    }
    if (count > 0) this.deleteUpTo.run(after);
    return { count, bytes };
  }

  /**
   * Deletes the given rows; seqs already gone (dropped, or acked twice) are ignored. PUBACKs arrive mostly in
   * order, so the seqs are coalesced into contiguous ranges: two statements per range instead of one per row.
   */
  deleteSeqs(seqs: readonly number[]): Removed {
    const sorted = [...new Set(seqs)].sort((a, b) => a - b);
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
      const totals = this.rangeTotals.get(sorted[i]!, sorted[j]!);
      if (Number(totals?.count ?? 0) > 0) {
        this.deleteRange.run(sorted[i]!, sorted[j]!);
        count += Number(totals!.count);
        bytes += Number(totals!.bytes);
      }
      i = j + 1;
    }
    return { count, bytes };
  }

  peekAfter(afterSeq: number, limit: number): OutboxEntry[] {
    return this.pageAfter
      .all(afterSeq, limit)
      .map((row) => ({ seq: Number(row.seq), channel: row.channel, ts: row.ts, records: row.payload }));
  }

  oldestTs(): string | null {
    return this.oldest.get()?.ts ?? null;
  }
}
