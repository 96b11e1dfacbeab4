/**
 * identity.db version 3 (file numbers run across this folder). Update jobs (issue 13): one row per offer the
 * device took on (or `update install --file`), with the state the engine reached, committed in one transaction per transition. `offset` is how many artifact bytes the partial
 * file holds for certain: a resumed download truncates the file to it. The manifest JWS is kept whole, so a job
 * resumed after a power cut is verified again from what was signed, never from a copy of its fields.
 */
import type { Migration } from '../../storage/db.js';

export const updateJobs: Migration = {
  version: 3,
  name: 'update-jobs',
  up: `
    CREATE TABLE update_jobs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      campaign_id TEXT,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      manifest_jws TEXT NOT NULL,
      url TEXT,
      allow_downgrade INTEGER NOT NULL CHECK (allow_downgrade IN (0, 1)),
      from_version TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('offered', 'downloading', 'downloaded', 'verified', 'installing',
        'restarting', 'trial', 'succeeded', 'failed', 'rolled-back', 'cancelled')),
      offset INTEGER NOT NULL DEFAULT 0 CHECK (offset >= 0),
      total INTEGER NOT NULL CHECK (total >= 0),
      artifact_path TEXT,
      artifact_offset INTEGER NOT NULL DEFAULT 0,
      reason_code TEXT,
      reason_message TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE INDEX update_jobs_state ON update_jobs (state);
  `,
};
