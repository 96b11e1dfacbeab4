/** `P/config/reported`: the edge's answer to a config push, matched to whoever waits for that version. */
import { ConfigReported, parsePayload } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleConfigReported: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(ConfigReported, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  message.record.lastConfigReported = parsed.value;
  storeAccepted(ctx, message, parsed.value);
  ctx.pending.configReported(message.record.edgeId, parsed.value);
};
