/**
 * Releases and update campaigns (issue 13). A release row points at its bundle file in the cloud's releases
 * directory (`bundle_sha256` tells a repeated upload of the same bytes from a different one). A campaign is never
 * deleted: cancelling (or being superseded) sets `cancelled_at`, so the site server can still withdraw it. One
 * progress row per campaign and edge holds the newest state reported.
 */
import type { Migration } from '../../../storage/db.js';

export const updates: Migration = {
  version: 5,
  name: 'updates',
  up: `
    CREATE TABLE releases (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      arch TEXT NOT NULL,
      manifest_jws TEXT NOT NULL,
      kid TEXT NOT NULL,
      size INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      bundle_size INTEGER NOT NULL,
      bundle_sha256 TEXT NOT NULL,
      created_at TEXT NOT NULL,
      notes TEXT,
      uploaded_at TEXT NOT NULL,
      UNIQUE (name, version, arch)
    );
    CREATE TABLE update_campaigns (
      id TEXT PRIMARY KEY,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL REFERENCES sites(id),
      release_id TEXT NOT NULL REFERENCES releases(id),
      edges TEXT,
      allow_downgrade INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      created_at TEXT NOT NULL,
      cancelled_at TEXT
    );
    CREATE INDEX update_campaigns_site ON update_campaigns (site_id, created_at);
    CREATE TABLE update_campaign_progress (
      campaign_id TEXT NOT NULL REFERENCES update_campaigns(id),
      edge_id TEXT NOT NULL,
      state TEXT NOT NULL,
      progress TEXT,
      reason TEXT,
      running_version TEXT,
      at TEXT NOT NULL,
      PRIMARY KEY (campaign_id, edge_id)
    );
  `,
};
