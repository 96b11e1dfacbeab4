/** One handler per edge→server channel (CONTRACT §4); the server's own channels have none. */
import type { EdgeChannel } from '../../../../protocol/index.js';
import { handleCmdResult } from './cmd-result.js';
import { handleConfigReported } from './config-reported.js';
import type { ChannelHandler } from './context.js';
import { handleData } from './data.js';
import { handleHeartbeat } from './heartbeat.js';
import { handleStatus } from './status.js';
import { handleUpdateState } from './update-state.js';

export const HANDLERS: Partial<Record<EdgeChannel, ChannelHandler>> = {
  status: handleStatus,
  heartbeat: handleHeartbeat,
  telemetry: handleData,
  events: handleData,
  'config/reported': handleConfigReported,
  'cmd/result': handleCmdResult,
  'update/state': handleUpdateState,
};
export type { HandlerContext } from './context.js';
