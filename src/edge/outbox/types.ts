/**
 * The outbox's public shapes and its input schemas. The outbox validates what it is given even though the
 * producer API validated it already: a record that reaches SQLite is published verbatim later, so this is the
 * last point where a bad value can be refused instead of poisoning the queue for days.
 */
import { z } from 'zod';
import type { ErrorDetail } from '../../protocol/errors.js';
import { MAX_PAYLOAD_BYTES, TelemetryRecord } from '../../protocol/messages.js';

export const OutboxChannel = z.enum(['telemetry', 'events']);
export type OutboxChannel = z.infer<typeof OutboxChannel>;

/** One enqueue call may carry more records than fit one envelope; it is split (see `chunkRecords`). */
export const MAX_RECORDS_PER_ENQUEUE = 100_000;
export const EnqueueRecords = z.array(TelemetryRecord).min(1).max(MAX_RECORDS_PER_ENQUEUE);

/** At most this many records per envelope (DataEnvelope allows 10 000). */
export const MAX_RECORDS_PER_ENVELOPE = 10_000;
/**
 * Bytes of records JSON per envelope: the broker and the server refuse payloads above MAX_PAYLOAD_BYTES, and the
 * envelope adds `{"seq":…,"ts":"…","historical":false,"records":` around the array (under 128 bytes).
 */
export const MAX_RECORDS_BYTES = MAX_PAYLOAD_BYTES - 256;

/**
 * Bounds. Not BufferConfig itself: the cloud sends whole megabytes and days, but tests and a technician's
 * override may use fractions, and any positive finite value is safe here.
 */
export const OutboxLimits = z.strictObject({
  maxSizeMb: z.number().positive().finite(),
  retentionDays: z.number().positive().finite(),
});
export type OutboxLimits = z.infer<typeof OutboxLimits>;

export const GroupCommitOptions = z.strictObject({
  /** The longest an enqueue waits for others to share its commit. 0 = next event-loop turn. */
  maxDelayMs: z.number().int().min(0).max(1000).default(10),
  /** Envelopes per transaction; reaching it commits at once, which also bounds the memory of pending work. */
  maxBatch: z.number().int().min(1).max(100_000).default(500),
});
export type GroupCommitOptions = z.input<typeof GroupCommitOptions>;

export interface EnqueueOptions {
  /** Commit now (with whatever else is pending) instead of waiting for the group-commit window. */
  durable?: 'now';
}

/** Seqs are consecutive within one call: `seq..lastSeq` (equal unless the records were split into envelopes). */
export interface EnqueueResult {
  seq: number;
  lastSeq: number;
}

/** Matches `QueueStats` (protocol/messages.ts), the heartbeat's `queue`. Committed rows only. */
export interface OutboxStats {
  depth: number;
  bytes: number;
  oldestTs: string | null;
  dropped: number;
}

/** A stored envelope as the drainer reads it. `records` is the JSON array text, exactly as stored. */
export interface OutboxEntry {
  seq: number;
  channel: OutboxChannel;
  ts: string;
  records: string;
}

/** What the drainer hands to the transport: `payload` is the complete DataEnvelope JSON, ready to publish. */
export interface OutboundMessage {
  channel: OutboxChannel;
  seq: number;
  historical: boolean;
  payload: string;
}

export type OutboxErrorCode = 'INVALID_INPUT' | 'CLOSED' | 'WRITE_FAILED';

export class OutboxError extends Error {
  override readonly name = 'OutboxError';
  constructor(
    readonly code: OutboxErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
