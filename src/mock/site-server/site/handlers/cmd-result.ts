/** `P/cmd/result`: a command's outcome, matched by id to the control-API call waiting for it. */
import { CommandResult, parsePayload } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleCmdResult: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(CommandResult, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  storeAccepted(ctx, message, parsed.value);
  if (!ctx.pending.commandResult(parsed.value))
    ctx.logger.debug('cmd_result_unmatched', { edgeId: message.record.edgeId, id: parsed.value.id });
};
