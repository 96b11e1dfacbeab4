/**
 * The newest key-rotation document the cloud has handed out (issue 13): devices refuse one that is not newer than
 * what they hold, so a cloud restarted with an older document must not go back to it. One row.
 */
import type { Migration } from '../../../storage/db.js';

export const releaseRotation: Migration = {
  version: 6,
  name: 'release-rotation',
  up: `
    CREATE TABLE release_rotation (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      sequence INTEGER NOT NULL,
      document TEXT NOT NULL,
      accepted_at TEXT NOT NULL
    );
  `,
};
