/** `P/heartbeat`: liveness and the edge's outbox depth. */
import { Heartbeat, parsePayload } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleHeartbeat: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(Heartbeat, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  message.record.lastHeartbeat = { ...parsed.value, receivedAt: message.receivedAt };
  storeAccepted(ctx, message, parsed.value);
};
