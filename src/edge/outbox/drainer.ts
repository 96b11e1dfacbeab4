/**
 * Publishes the outbox oldest first over QoS 1 and deletes rows only after their PUBACK.
 *
 * - Pipelined: up to `maxInFlight` publishes wait for PUBACK at once, so throughput is not one round trip per
 *   message. Acks are deleted in batches (one transaction per `ackBatch` rows or `ackDelayMs`).
 * - Connection-scoped: the runtime calls `start()` on CONNACK and `stop()` when the connection is lost. Each start
 *   begins a new pass from the oldest row still stored, so anything unacknowledged is sent again: the subscriber
 *   may see a seq twice (it dedupes by seq) but never misses one.
 * - `historical`: rows committed before this connection started (including those from before boot) carry
 *   `historical: true`, decided by seq, not by clock, so a clock jump cannot mislabel them.
 * - Replay pacing: historical rows pass through a token bucket (`replayRate`); live rows are not paced.
 */
import { silentLogger, type Logger } from '../../common/log/log.js';
import { envelopeJson } from './chunk.js';
import type { Outbox } from './outbox.js';
import { TokenBucket, type Rate } from './token-bucket.js';
import type { OutboundMessage, OutboxEntry } from './types.js';

export interface DrainerOptions {
  /** Publishes one message with QoS 1; resolves on PUBACK, rejects if it cannot be delivered. */
  publish: (message: OutboundMessage) => Promise<void>;
  maxInFlight?: number;
  ackBatch?: number;
  ackDelayMs?: number;
  /** Pacing of the backlog after each (re)connect; null sends it unpaced. */
  replayRate?: Rate | null;
  /** Pause before a new pass after a publish failed while the connection was considered up. */
  retryDelayMs?: number;
  logger?: Logger;
}

/** One pass over the outbox, from one `start()` (or retry) to the next `stop()`. */
interface Pass {
  inFlight: number;
  /** Highest seq handed to publish in this pass. */
  cursor: number;
  /** Rows read ahead (at most one window), so refilling after each PUBACK costs no SQLite read. */
  buffer: OutboxEntry[];
  bucket: TokenBucket | null;
  pacingTimer: ReturnType<typeof setTimeout> | null;
}

export class Drainer {
  private readonly publish: DrainerOptions['publish'];
  private readonly maxInFlight: number;
  private readonly ackBatch: number;
  private readonly ackDelayMs: number;
  private readonly replayRate: Rate | null;
  private readonly retryDelayMs: number;
  private readonly logger: Logger;
  private pass: Pass | null = null;
  private liveFromSeq = 0;
  /** Set at CONNACK by `markConnected()`, consumed by `start()`, cleared by `stop()`. */
  private connectedFromSeq: number | null = null;
  private acked: number[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly outbox: Outbox,
    options: DrainerOptions,
  ) {
    this.publish = options.publish;
    this.maxInFlight = positiveInt(options.maxInFlight ?? 64, 'maxInFlight');
    this.ackBatch = positiveInt(options.ackBatch ?? 256, 'ackBatch');
    this.ackDelayMs = options.ackDelayMs ?? 20;
    this.replayRate = options.replayRate === undefined ? { perSecond: 200, burst: 400 } : options.replayRate;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.logger = options.logger ?? silentLogger;
  }

  get running(): boolean {
    return this.pass !== null;
  }

  /**
   * The connection is up (CONNACK): rows committed from now on are live. The runtime calls this at CONNACK and
   * `start()` only after its birth message was acknowledged, so a record produced in between is still live.
   */
  markConnected(): void {
    // Commit what producers already handed over, so "before this connection" is exact for historical.
    this.outbox.flush();
    this.connectedFromSeq = this.outbox.nextSeq;
  }

  /** Start a pass from the oldest stored row (the boundary is taken now unless `markConnected()` set it). Idempotent. */
  start(): void {
    if (this.unsubscribe) return;
    if (this.connectedFromSeq === null) this.markConnected();
    this.liveFromSeq = this.connectedFromSeq!;
    // New rows (enqueue commits) and freed rows (ack commits) are both reasons to look again.
    this.unsubscribe = this.outbox.onChange(() => this.fill());
    this.begin();
  }

  /** The connection is gone: stop sending. PUBACKs that still arrive are honoured; received acks are committed. */
  stop(): void {
    this.connectedFromSeq = null;
    this.end();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.flushAcks();
  }

  private begin(): void {
    // Rows whose PUBACK is in but not yet deleted would otherwise be sent again by the new pass.
    this.flushAcks();
    this.pass = {
      inFlight: 0,
      cursor: 0,
      buffer: [],
      bucket: this.replayRate ? new TokenBucket(this.replayRate) : null,
      pacingTimer: null,
    };
    this.fill();
  }

  private end(): void {
    if (this.pass?.pacingTimer) clearTimeout(this.pass.pacingTimer);
    this.pass = null;
  }

  /**
   * Sends buffered rows while the window has room. Synchronous and driven by events (start, each PUBACK, each
   * outbox commit, the pacing timer), so a refill right after a PUBACK keeps the pipe full without a poll loop.
   */
  private fill(): void {
    const pass = this.pass;
    if (!pass) return;
    try {
      while (this.pass === pass && pass.inFlight < this.maxInFlight) {
        if (pass.buffer.length === 0) {
          pass.buffer = this.outbox.peekAfter(pass.cursor, this.maxInFlight);
          if (pass.buffer.length === 0) return; // idle until the next commit
        }
        const row = pass.buffer[0]!;
        const historical = row.seq < this.liveFromSeq;
        if (historical && pass.bucket) {
          const waitMs = pass.bucket.take();
          if (waitMs > 0) {
            pass.pacingTimer ??= setTimeout(() => {
              pass.pacingTimer = null;
              // Re-read after the pause: rows may have been dropped or acked meanwhile.
              pass.buffer = [];
              this.fill();
            }, waitMs);
            return;
          }
        }
        pass.buffer.shift();
        pass.cursor = row.seq;
        this.send(pass, {
          channel: row.channel,
          seq: row.seq,
          historical,
          payload: envelopeJson(row.seq, row.ts, historical, row.records),
        });
      }
    } catch (error) {
      // Only a database read can throw here: end this pass and try again later rather than crash.
      this.logger.error('outbox.drain_failed', { error });
      this.retry(pass);
    }
  }

  private send(pass: Pass, message: OutboundMessage): void {
    pass.inFlight += 1;
    let sent: Promise<void>;
    try {
      sent = this.publish(message);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      () => {
        pass.inFlight -= 1;
        this.onAck(message.seq);
        this.fill();
      },
      (error: unknown) => {
        pass.inFlight -= 1;
        if (this.pass === pass) {
          this.logger.warn('outbox.publish_failed', { seq: message.seq, error });
          this.retry(pass);
        }
      },
    );
  }

  /**
   * A publish failed while the pass was live: stop this pass (so nothing newer is sent past the gap) and start a
   * new one from the oldest unacknowledged row after a pause.
   */
  private retry(pass: Pass): void {
    if (this.pass !== pass) return;
    this.end();
    setTimeout(() => {
      if (this.pass === null && this.unsubscribe) this.begin();
    }, this.retryDelayMs).unref?.();
  }

  private onAck(seq: number): void {
    this.acked.push(seq);
    if (this.acked.length >= this.ackBatch) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), this.ackDelayMs);
  }

  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      this.outbox.ack(seqs);
    } catch (error) {
      // Not fatal: the rows stay and are sent again on the next pass (a duplicate, never a loss).
      this.logger.error('outbox.ack_failed', { error, count: seqs.length });
    }
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
