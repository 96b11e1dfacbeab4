/** The store-and-forward outbox: durable enqueue with group commit, bounded storage, pipelined QoS 1 drain. */
export { Outbox, SEQ_RESERVATION_BLOCK, type OutboxOptions, type SeqReservation } from './outbox.js';
export { Drainer, type DrainerOptions } from './drainer.js';
export { TokenBucket, type Rate } from './token-bucket.js';
export { envelopeJson } from './chunk.js';
export {
  OutboxChannel,
  OutboxError,
  OutboxLimits,
  EnqueueRecords,
  MAX_RECORDS_PER_ENQUEUE,
  type EnqueueOptions,
  type EnqueueResult,
  type GroupCommitOptions,
  type OutboundMessage,
  type OutboxEntry,
  type OutboxErrorCode,
  type OutboxStats,
} from './types.js';
export { outboxMigrations } from '../migrations/index.js';
