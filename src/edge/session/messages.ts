/** The edge's own MQTT payloads (CONTRACT §4), built in one place and checked against the protocol schemas. */
import { Heartbeat, type HeartbeatSite, StatusOffline, StatusOnline, type QueueStats } from '../../protocol/index.js';
import type { z } from 'zod';

/** `last error` of a revoked device, in `status` whether the service or the database says so. */
export const REVOKED_LAST_ERROR = 'this device was removed from its site (revoked); a new pairing is needed';

export type QueueStatsValue = z.infer<typeof QueueStats>;
export const EMPTY_QUEUE: QueueStatsValue = { depth: 0, bytes: 0, oldestTs: null, dropped: 0 };

export function onlineStatus(args: { version: string; bootId: string; startedAt: string; nowMs: number }): string {
  return JSON.stringify(
    StatusOnline.parse({
      state: 'online',
      version: args.version,
      bootId: args.bootId,
      startedAt: args.startedAt,
      ts: new Date(args.nowMs).toISOString(),
    }),
  );
}

export function offlineStatus(reason: 'lost' | 'shutdown' | 'restart', nowMs?: number): string {
  return JSON.stringify(
    StatusOffline.parse({
      state: 'offline',
      reason,
      ...(nowMs !== undefined ? { ts: new Date(nowMs).toISOString() } : {}),
    }),
  );
}

export function heartbeat(args: {
  nowMs: number;
  /** Seconds this process has run, from a clock that no wall-clock step moves (not from `nowMs`). */
  uptimeS: number;
  queue: QueueStatsValue;
  clockSkewMs: number;
  site?: z.infer<typeof HeartbeatSite>;
}): string {
  return JSON.stringify(
    Heartbeat.parse({
      ts: new Date(args.nowMs).toISOString(),
      uptimeS: Math.max(0, Math.round(args.uptimeS)),
      rssBytes: process.memoryUsage.rss(),
      queue: args.queue,
      clockSkewMs: args.clockSkewMs,
      ...(args.site ? { site: args.site } : {}),
    }),
  );
}
