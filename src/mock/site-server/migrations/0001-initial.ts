/**
 * The mock site server's first schema: what it must remember to keep admitting edges while the cloud is down
 * (its registration, the cloud's JWKS, the site's edge list) and the last config version pushed to each edge
 * (so a push after a restart is still newer than what the edge holds). Live traffic stays in memory.
 */
import type { Migration } from '../../../storage/db.js';

export const initial: Migration = {
  version: 1,
  name: 'initial',
  up: `
    CREATE TABLE registration (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      cloud_url TEXT NOT NULL,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL,
      issuer TEXT NOT NULL,
      site_token TEXT NOT NULL,
      config_json TEXT NOT NULL,
      mqtt_url TEXT NOT NULL,
      registered_at TEXT NOT NULL
    );
    CREATE TABLE jwks (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      jwks_json TEXT NOT NULL,
      fetched_at TEXT NOT NULL
    );
    CREATE TABLE edges (
      edge_id TEXT PRIMARY KEY,
      uuid TEXT,
      status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
      registered_at TEXT,
      revoked_at TEXT
    );
    CREATE TABLE edge_list_meta (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      fetched_at TEXT NOT NULL
    );
    CREATE TABLE config_versions (
      edge_id TEXT PRIMARY KEY,
      version INTEGER NOT NULL,
      config_json TEXT NOT NULL,
      pushed_at TEXT NOT NULL
    );
  `,
};
