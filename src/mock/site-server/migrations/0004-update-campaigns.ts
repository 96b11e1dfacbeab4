/**
 * Update campaigns (issue 13): the campaigns learned from the cloud, and per campaign and edge what the site server
 * offered and what the edge last reported. `dirty` marks a state the cloud has not been told yet, so progress
 * survives a restart of the site server and an outage of the cloud. The artifacts themselves live in files under
 * the data dir (`updates/<sha256>.artifact`), checked against their sha256 when the server starts. `sha256`, `size`
 * and `version` come from the verified manifest; they are null for a campaign whose manifest did not verify.
 */
import type { Migration } from '../../../storage/db.js';

export const updateCampaigns: Migration = {
  version: 4,
  name: 'update-campaigns',
  up: `
    CREATE TABLE update_campaigns (
      id TEXT PRIMARY KEY,
      release_id TEXT NOT NULL,
      manifest_jws TEXT NOT NULL,
      release_keys TEXT,
      edges_json TEXT,
      allow_downgrade INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('active', 'cancelled')),
      sha256 TEXT,
      size INTEGER,
      version TEXT,
      artifact_error_json TEXT,
      first_seen_at TEXT NOT NULL,
      cancelled_at TEXT
    );
    CREATE TABLE update_edge_states (
      campaign_id TEXT NOT NULL REFERENCES update_campaigns(id),
      edge_id TEXT NOT NULL,
      offered_at TEXT,
      state TEXT,
      progress_json TEXT,
      reason_json TEXT,
      running_version TEXT,
      at TEXT,
      dirty INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (campaign_id, edge_id)
    );
  `,
};
