/** `P/update/state`: the edge's update job, kept on its record and handed to the update delivery. */
import { parsePayload, UpdateStateReport } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleUpdateState: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(UpdateStateReport, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  message.record.lastUpdateState = { ...parsed.value, receivedAt: message.receivedAt };
  storeAccepted(ctx, message, parsed.value);
  ctx.onUpdateState?.(message.record.edgeId, parsed.value);
};
