/** `P/telemetry` and `P/events`: one envelope and one `seq` counter per edge; duplicates are kept but flagged. */
import { DataEnvelope, parsePayload } from '../../../../protocol/index.js';
import { storeAccepted, storeRefused, type ChannelHandler } from './context.js';

export const handleData: ChannelHandler = (ctx, message) => {
  const parsed = parsePayload(DataEnvelope, message.payload);
  if (!parsed.ok) return storeRefused(ctx, message, parsed.error);
  const verdict = message.record.tracker.record(parsed.value.seq, message.receivedAt);
  if (verdict === 'duplicate')
    ctx.logger.debug('seq_duplicate', { edgeId: message.record.edgeId, seq: parsed.value.seq });
  storeAccepted(ctx, message, parsed.value, { seq: parsed.value.seq, verdict });
};
