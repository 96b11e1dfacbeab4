/**
 * The durable, bounded outbox with group commit.
 *
 * Durability: `enqueue` resolves only after the transaction holding its rows has committed. Enqueues that arrive
 * within `maxDelayMs` (or until `maxBatch` envelopes are waiting) share one transaction, so the cost of a commit
 * (an fsync of the WAL under synchronous=FULL) is paid once per batch, not once per message.
 *
 * Bounds: the same transaction that inserts also drops what the bounds exclude (expired first, then the oldest
 * until the stored bytes fit), bumps the persisted `dropped` counter and advances the persisted `next_seq`, so a
 * power cut can never leave a seq assigned but not persisted, or rows dropped but not counted.
 *
 * State is per instance (no module globals): a fleet simulator may run thousands of outboxes in one process.
 */
import type { Db } from '../../storage/db.js';
import type { Clock } from '../clock.js';
import { PLAUSIBLE_AFTER_MS } from '../clock.js';
import { silentLogger, type Logger } from '../../common/log/log.js';
import { detailsFromZod } from '../../protocol/errors.js';
import type { TelemetryRecord } from '../../protocol/messages.js';
import { chunkRecords, type Chunk } from './chunk.js';
import { DropReport } from './drop-report.js';
import { type OutboxCounters, OutboxStore, type Removed } from './store.js';
import {
  EnqueueRecords,
  GroupCommitOptions,
  OutboxChannel,
  OutboxError,
  OutboxLimits,
  type EnqueueOptions,
  type EnqueueResult,
  type OutboxEntry,
  type OutboxStats,
} from './types.js';

export interface OutboxOptions {
  limits: OutboxLimits;
  groupCommit?: GroupCommitOptions;
  /** Wall clock for `ts` and retention; the runtime passes its corrected EdgeClock. */
  clock?: Clock;
  logger?: Logger;
  /** How often retention is applied when nothing is being enqueued (an idle, offline edge). 0 disables. */
  sweepIntervalMs?: number;
  /**
   * Where seqs are reserved outside this database (the runtime: identity.db), so an outbox recreated after it was
   * found damaged continues above every seq ever used and the site server's dedupe still holds.
   */
  seqReservation?: SeqReservation;
}

export interface SeqReservation {
  /** Every seq below this may have been used. */
  floor(): number;
  /** Durably records that seqs below `upTo` may be used; called before any of them is committed. */
  reserve(upTo: number): void;
}

/** Seqs reserved per write to the reservation: one extra durable write per this many envelopes. */
export const SEQ_RESERVATION_BLOCK = 10_000;

interface Pending {
  channel: OutboxChannel;
  chunks: Chunk[];
  enqueuedAt: number;
  resolve: (result: EnqueueResult) => void;
  reject: (error: Error) => void;
}

/** What enforcing the bounds removed in one transaction, and the persisted `dropped` total after it. */
interface Drops {
  expired: Removed;
  evicted: Removed;
  dropped: number;
}

interface Committed extends Drops {
  results: EnqueueResult[];
  inserted: Removed;
  nextSeq: number;
}

const DAY_MS = 86_400_000;
const MB = 1024 * 1024;

export class Outbox {
  private readonly db: Db;
  private readonly store: OutboxStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly groupCommit: { maxDelayMs: number; maxBatch: number };
  private readonly drops: DropReport;
  private readonly listeners = new Set<() => void>();
  private limits: OutboxLimits;
  private pending: Pending[] = [];
  private pendingEnvelopes = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  // Mirrors of committed state, updated only after a commit succeeds, so stats() never scans the table.
  private depth: number;
  private bytes: number;
  private nextSeqValue: number;
  private dropped: number;
  private readonly reservation: SeqReservation | null;
  private reservedUpTo: number;

  constructor(db: Db, options: OutboxOptions) {
    this.limits = OutboxLimits.parse(options.limits);
    this.groupCommit = GroupCommitOptions.parse(options.groupCommit ?? {});
    this.clock = options.clock ?? { now: Date.now };
    this.logger = options.logger ?? silentLogger;
    this.drops = new DropReport(this.logger);
    this.store = new OutboxStore(db);
    this.db = db;
    const state = this.store.state();
    this.nextSeqValue = state.nextSeq;
    this.dropped = state.dropped;
    this.depth = state.depth;
    this.bytes = state.bytes;
    this.reservation = options.seqReservation ?? null;
    this.reservedUpTo = this.reservation ? this.resumeAboveFloor(this.reservation) : Number.POSITIVE_INFINITY;
    const sweepMs = options.sweepIntervalMs ?? 60_000;
    if (sweepMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
      // A library timer must never keep a process (or a test) alive on its own.
      this.sweepTimer.unref?.();
    }
  }

  /**
   * Queues records for `channel`. Resolves with the seqs once committed; rejects with OutboxError on invalid input
   * (INVALID_INPUT), after close (CLOSED) or when the database refuses the write (WRITE_FAILED, e.g. disk full).
   * It never waits for space: a full buffer drops its oldest rows instead.
   */
  enqueue(
    channel: OutboxChannel,
    records: readonly TelemetryRecord[],
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(new OutboxError('CLOSED', 'the outbox is closed'));
    const channelCheck = OutboxChannel.safeParse(channel);
    if (!channelCheck.success)
      return Promise.reject(new OutboxError('INVALID_INPUT', `unknown channel ${String(channel)}`));
    const parsed = EnqueueRecords.safeParse(records);
    if (!parsed.success) {
      return Promise.reject(new OutboxError('INVALID_INPUT', 'invalid records', detailsFromZod(parsed.error)));
    }
    const chunks = chunkRecords(parsed.data);
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.pending.push({ channel: channelCheck.data, chunks, enqueuedAt: this.clock.now(), resolve, reject });
      this.pendingEnvelopes += chunks.length;
      if (options.durable === 'now' || this.pendingEnvelopes >= this.groupCommit.maxBatch) this.flush();
      else this.schedule();
    });
  }

  /** Commits everything pending now. Safe to call at any time; a no-op when nothing is pending. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingEnvelopes = 0;

    const nowMs = this.clock.now();
    let outcome: Committed;
    try {
      this.reserveSeqs(batch.reduce((sum, item) => sum + item.chunks.length, 0));
      outcome = this.db.transaction(() => this.commitBatch(batch, nowMs));
    } catch (cause) {
      this.logger.error('outbox.write_failed', { error: cause, envelopes: batch.length });
      const error = new OutboxError(
        'WRITE_FAILED',
        `the outbox could not commit: ${(cause as Error).message}`,
        undefined,
        { cause },
      );
      for (const item of batch) item.reject(error);
      return;
    }
    this.nextSeqValue = outcome.nextSeq;
    this.depth += outcome.inserted.count;
    this.bytes += outcome.inserted.bytes;
    this.noteDrops(outcome);
    batch.forEach((item, index) => item.resolve(outcome.results[index]!));
    this.notify();
  }

  /** Runs inside the transaction: inserts, then enforces the bounds, then persists the counters. */
  private commitBatch(batch: Pending[], nowMs: number): Committed {
    let seq = this.nextSeqValue;
    const inserted: Removed = { count: 0, bytes: 0 };
    const results: EnqueueResult[] = [];
    for (const item of batch) {
      const first = seq;
      const ts = new Date(item.enqueuedAt).toISOString();
      for (const chunk of item.chunks) {
        this.store.insert(seq, {
          channel: item.channel,
          enqueuedAt: item.enqueuedAt,
          ts,
          records: chunk.json,
          bytes: chunk.bytes,
        });
        inserted.count += 1;
        inserted.bytes += chunk.bytes;
        seq += 1;
      }
      results.push({ seq: first, lastSeq: seq - 1 });
    }
    const drops = this.enforceBounds(nowMs, this.bytes + inserted.bytes);
    this.store.saveState(
      this.counters({
        nextSeq: seq,
        dropped: drops.dropped,
        count: inserted.count - drops.expired.count - drops.evicted.count,
        bytes: inserted.bytes - drops.expired.bytes - drops.evicted.bytes,
      }),
    );
    return { results, inserted, nextSeq: seq, ...drops };
  }

  private enforceBounds(nowMs: number, bytesBefore: number): Drops {
    // A clock that is obviously wrong (1970) cannot judge age; skip retention rather than wipe the buffer.
    const expired =
      nowMs >= PLAUSIBLE_AFTER_MS
        ? this.store.dropExpired(nowMs - this.limits.retentionDays * DAY_MS, PLAUSIBLE_AFTER_MS)
        : { count: 0, bytes: 0 };
    const excess = bytesBefore - expired.bytes - Math.floor(this.limits.maxSizeMb * MB);
    const evicted = excess > 0 ? this.store.dropOldest(excess) : { count: 0, bytes: 0 };
    return { expired, evicted, dropped: this.dropped + expired.count + evicted.count };
  }

  /** After a commit: the in-memory mirrors follow what the bounds removed, and the drop report hears of it. */
  private noteDrops({ expired, evicted, dropped }: Drops): void {
    this.dropped = dropped;
    this.depth -= expired.count + evicted.count;
    this.bytes -= expired.bytes + evicted.bytes;
    this.drops.add('retention', expired.count, dropped);
    this.drops.add('size', evicted.count, dropped);
  }

  /** Applies retention (and a shrunk size bound) without an insert; one transaction. */
  sweep(): void {
    if (this.closed) return;
    const nowMs = this.clock.now();
    try {
      const outcome = this.db.transaction(() => {
        const drops = this.enforceBounds(nowMs, this.bytes);
        if (drops.expired.count + drops.evicted.count > 0)
          this.store.saveState(
            this.counters({
              dropped: drops.dropped,
              count: -drops.expired.count - drops.evicted.count,
              bytes: -drops.expired.bytes - drops.evicted.bytes,
            }),
          );
        return drops;
      });
      this.noteDrops(outcome);
      if (outcome.expired.count + outcome.evicted.count > 0) this.notify();
    } catch (cause) {
      this.logger.error('outbox.sweep_failed', { error: cause });
    }
  }

  /** Hot-reloads the bounds (a P/config push); a smaller bound takes effect at once. Throws on invalid limits. */
  setLimits(limits: OutboxLimits): void {
    this.limits = OutboxLimits.parse(limits);
    this.sweep();
  }

  getLimits(): OutboxLimits {
    return { ...this.limits };
  }

  /** Committed envelopes with seq > afterSeq, oldest first. */
  peekAfter(afterSeq: number, limit: number): OutboxEntry[] {
    return this.store.peekAfter(afterSeq, limit);
  }

  /** Deletes published envelopes (after PUBACK), in one transaction. Unknown seqs are ignored. */
  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const removed = this.db.transaction(() => {
      const gone = this.store.deleteSeqs(seqs);
      if (gone.count > 0) this.store.saveState(this.counters({ count: -gone.count, bytes: -gone.bytes }));
      return gone;
    });
    this.depth -= removed.count;
    this.bytes -= removed.bytes;
    if (removed.count > 0) this.notify();
  }

  /** The seq the next committed envelope will get: every committed seq is below it. */
  get nextSeq(): number {
    return this.nextSeqValue;
  }

  stats(): OutboxStats {
    return {
      depth: this.depth,
      bytes: this.bytes,
      oldestTs: this.depth > 0 ? this.store.oldestTs() : null,
      dropped: this.dropped,
    };
  }

  /** Called after every commit that changed the queue (enqueue, ack, drop). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits what is pending and refuses further enqueues. The database stays open: its owner closes it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.listeners.clear();
  }

  /**
   * An outbox that never committed anything (first boot, or the old one was damaged and moved aside) starts at the
   * reservation's floor, above every seq an earlier outbox may have used; one that did keeps its own counter. The
   * floor is all that is reserved so far: the first commit above it reserves the next block.
   */
  private resumeAboveFloor(reservation: SeqReservation): number {
    const floor = reservation.floor();
    if (this.nextSeqValue === 1 && floor > 1) {
      this.nextSeqValue = floor;
      this.db.transaction(() => this.store.saveState(this.counters({ nextSeq: floor, count: 0, bytes: 0 })));
    }
    return floor;
  }

  /** The persisted counters after a change of `count` rows and `bytes` (negative: removed) to the in-memory ones. */
  private counters(change: { nextSeq?: number; dropped?: number; count: number; bytes: number }): OutboxCounters {
    return {
      nextSeq: change.nextSeq ?? this.nextSeqValue,
      dropped: change.dropped ?? this.dropped,
      depth: this.depth + change.count,
      bytes: this.bytes + change.bytes,
    };
  }

  /** Makes sure the next `count` seqs are reserved before they are committed. */
  private reserveSeqs(count: number): void {
    if (!this.reservation || this.nextSeqValue + count <= this.reservedUpTo) return;
    const upTo = this.nextSeqValue + count + SEQ_RESERVATION_BLOCK;
    this.reservation.reserve(upTo);
    this.reservedUpTo = upTo;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.groupCommit.maxDelayMs);
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error('outbox.listener_failed', { error });
      }
    }
  }
}
