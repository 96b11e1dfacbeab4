/**
 * The outbox's own database (`outbox.db`), apart from identity and credentials (`identity.db`), so a boot checks
 * only the small file and a corrupt outbox never costs the device its identity (issue 12.2).
 *
 * `outbox.db` keeps the version numbers of the single `edge.db` it replaces: an existing device's `edge.db` is
 * renamed to `outbox.db` as it is (versions 1 and 2 already applied) and only these steps run on it. A new file runs
 * step 1 as a no-op and gets the outbox from step 2.
 */
import type { Migration } from '../../storage/db.js';

/** The tables identity.db takes from an earlier version's edge.db: every table of migration 1, the edge core. */
export const IDENTITY_TABLES = [
  'identity',
  'pending_pairing',
  'registration',
  'runtime_config',
  'config_history',
  'command_results',
  'kv',
  'status_snapshot',
] as const;

/** Step 1 of a new outbox.db: nothing (in a renamed edge.db, the identity tables that step 3 removes). */
export const outboxBase: Migration = { version: 1, name: 'outbox-base', up: () => {} };

/**
 * The identity tables copied into identity.db leave the outbox file. `secure_delete` zeroes their pages, so the
 * device key and the token do not linger in a file that may one day be moved aside as damaged.
 */
export const dropIdentityCopy: Migration = {
  version: 3,
  name: 'drop-identity-copy',
  up: (db) => {
    db.exec('PRAGMA secure_delete = ON');
    for (const table of IDENTITY_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`);
  },
};

/**
 * Queue totals kept with the seq counter, so opening the outbox is O(1): counting a 1 GiB backlog from a cold
 * page cache took seconds on eMMC and delayed the connection. Counted once here, then kept by every commit.
 */
export const persistedTotals: Migration = {
  version: 4,
  name: 'persisted-totals',
  up: `
    ALTER TABLE outbox_state ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox_state ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox_state SET
      depth = (SELECT COUNT(*) FROM outbox),
      bytes = (SELECT COALESCE(SUM(bytes), 0) FROM outbox);
  `,
};
