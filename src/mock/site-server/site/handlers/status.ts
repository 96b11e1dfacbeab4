/** `P/status`: presence. Online births, the LWT ("lost") and clean stops ("shutdown") all arrive here. */
import { EdgeStatusMessage, parsePayload } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleStatus: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(EdgeStatusMessage, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  const status = parsed.value;
  // A retained status describes the past: date it by its own `ts`, not by when we happened to subscribe.
  const since = (message.retained && status.ts) || message.receivedAt;
  message.record.presence =
    status.state === 'online'
      ? { state: 'online', reason: null, since, version: status.version, bootId: status.bootId }
      : { state: 'offline', reason: status.reason, since };
  storeAccepted(ctx, message, status);
  ctx.logger.info('edge_presence', {
    edgeId: message.record.edgeId,
    state: status.state,
    reason: message.record.presence.reason,
  });
};
