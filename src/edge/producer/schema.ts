/** The local producer API's bodies (README "Producer API"). Strict: an unknown field is a 400, not ignored. */
import { z } from 'zod';
import { TelemetryRecord } from '../../protocol/messages.js';
import { MAX_RECORDS_PER_ENQUEUE } from '../outbox/types.js';

export const PRODUCER_DEFAULT_PORT = 8719;
/** Bodies above this are refused with 413 while streaming, before any parsing. */
export const MAX_PRODUCER_BODY_BYTES = 1024 * 1024;

export const ProduceRequest = z.strictObject({
  records: z.array(TelemetryRecord).min(1).max(MAX_RECORDS_PER_ENQUEUE),
  /** true: commit before answering, without waiting for the group-commit window. */
  durable: z.boolean().optional(),
});
export type ProduceRequest = z.infer<typeof ProduceRequest>;

export const ProduceResponse = z.object({ seq: z.number().int().positive(), lastSeq: z.number().int().positive() });
export type ProduceResponse = z.infer<typeof ProduceResponse>;
