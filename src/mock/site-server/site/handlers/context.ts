/** What every channel handler gets: the book to update, the replies to correlate, the log. */
import type { Logger } from '../../../../common/log/log.js';
import type { EdgeChannel, UpdateStateReport } from '../../../../protocol/index.js';
import type { EdgeBook, EdgeRecord, StoredMessage } from '../edge-book.js';
import type { PendingReplies } from '../pending.js';

export interface HandlerContext {
  book: EdgeBook;
  pending: PendingReplies;
  logger: Logger;
  /** Where an edge's update report goes once parsed (the update delivery); must not throw. */
  onUpdateState?: ((edgeId: string, report: UpdateStateReport) => void) | undefined;
}

export interface Incoming {
  record: EdgeRecord;
  channel: EdgeChannel;
  payload: Buffer;
  retained: boolean;
  receivedAt: string;
}

export type ChannelHandler = (ctx: HandlerContext, message: Incoming) => void;

/** Stores a refused payload with its reason and first bytes, and logs it; never throws. */
export function storeRefused(ctx: HandlerContext, message: Incoming, error: string): void {
  const stored: StoredMessage = {
    channel: message.channel,
    receivedAt: message.receivedAt,
    retained: message.retained,
    payload: null,
    error,
    raw: message.payload.subarray(0, 256).toString('utf8'),
  };
  ctx.book.store(message.record, stored);
  ctx.logger.warn('payload_refused', {
    edgeId: message.record.edgeId,
    channel: message.channel,
    error: error.slice(0, 500),
  });
}

export function storeAccepted(
  ctx: HandlerContext,
  message: Incoming,
  payload: unknown,
  extra: Partial<StoredMessage> = {},
): void {
  ctx.book.store(message.record, {
    channel: message.channel,
    receivedAt: message.receivedAt,
    retained: message.retained,
    payload,
    ...extra,
  });
}
