/**
 * The store-and-forward outbox (CONTRACT §4 telemetry/events, §5 edge state). One row is one envelope to publish.
 *
 * - `seq` is the envelope's per-edge sequence number and the queue order. It is assigned from
 *   `outbox_state.next_seq`, never from the table, so a seq is never reused even after every row was sent or
 *   dropped (SQLite's plain rowid would reuse the largest deleted value).
 * - `payload` is the JSON array of records exactly as it will be published, so draining is a read, not a re-encode,
 *   and `bytes` (its UTF-8 length) is what `maxSizeMb` bounds.
 * - `enqueued_at` (ms since the epoch, from the edge clock) is what `retentionDays` bounds; `ts` is the same
 *   instant as the ISO string that goes into the envelope.
 */
import type { Migration } from '../../storage/db.js';

export const outboxMigration: Migration = {
  version: 2,
  name: 'outbox',
  up: `
    CREATE TABLE outbox (
      seq INTEGER PRIMARY KEY,
      channel TEXT NOT NULL CHECK (channel IN ('telemetry', 'events')),
      enqueued_at INTEGER NOT NULL,
      ts TEXT NOT NULL,
      bytes INTEGER NOT NULL CHECK (bytes > 0),
      payload TEXT NOT NULL
    );
    CREATE INDEX outbox_enqueued_at ON outbox (enqueued_at);
    CREATE TABLE outbox_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      next_seq INTEGER NOT NULL CHECK (next_seq >= 1),
      dropped INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO outbox_state (id, next_seq, dropped) VALUES (1, 1, 0);
  `,
};
