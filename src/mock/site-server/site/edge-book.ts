/**
 * What the site server knows about each edge from its traffic: presence, counters, the last heartbeat, the
 * recent messages (a bounded ring per edge) and the `seq` tracker. One book per server instance; the number of
 * edges it will track is capped so a flood of made-up edge ids (possible on an external broker with a loose
 * ACL) cannot grow it without bound.
 */
import type { EdgeChannel, Heartbeat, UpdateStateReport } from '../../../protocol/index.js';
import { SeqTracker } from './seq-tracker.js';

export const MAX_TRACKED_EDGES = 10_000;

export interface Presence {
  state: 'unknown' | 'online' | 'offline';
  reason: string | null;
  since: string | null;
  version?: string;
  bootId?: string;
}

export interface StoredMessage {
  channel: EdgeChannel;
  receivedAt: string;
  retained: boolean;
  /** The parsed payload, or null when it was refused. */
  payload: unknown;
  seq?: number;
  verdict?: 'new' | 'duplicate' | 'late';
  /** Why the payload was refused, and its first bytes (for a technician to see what was sent). */
  error?: string;
  raw?: string;
}

export interface EdgeRecord {
  edgeId: string;
  presence: Presence;
  received: number;
  invalid: number;
  tracker: SeqTracker;
  lastHeartbeat: (Heartbeat & { receivedAt: string }) | null;
  lastConfigReported: unknown;
  /** The edge's last `P/update/state`, offline installs included. */
  lastUpdateState: (UpdateStateReport & { receivedAt: string }) | null;
  messages: StoredMessage[];
}

export class EdgeBook {
  private readonly edges = new Map<string, EdgeRecord>();

  constructor(private readonly bufferSize: number) {}

  get(edgeId: string): EdgeRecord | undefined {
    return this.edges.get(edgeId);
  }

  /** The record for an edge, created on first sight; undefined once the cap is reached. */
  touch(edgeId: string): EdgeRecord | undefined {
    let record = this.edges.get(edgeId);
    if (!record) {
      if (this.edges.size >= MAX_TRACKED_EDGES) return undefined;
      record = {
        edgeId,
        presence: { state: 'unknown', reason: null, since: null },
        received: 0,
        invalid: 0,
        tracker: new SeqTracker(),
        lastHeartbeat: null,
        lastConfigReported: null,
        lastUpdateState: null,
        messages: [],
      };
      this.edges.set(edgeId, record);
    }
    return record;
  }

  all(): EdgeRecord[] {
    return [...this.edges.values()];
  }

  store(record: EdgeRecord, message: StoredMessage): void {
    record.received++;
    if (message.error) record.invalid++;
    record.messages.push(message);
    if (record.messages.length > this.bufferSize) record.messages.splice(0, record.messages.length - this.bufferSize);
  }
}
