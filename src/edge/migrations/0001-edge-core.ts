/**
 * The edge's own schema (CONTRACT §5). Singleton rows carry `CHECK (id = 1)` so a bug can never leave two
 * registrations or two device keys behind. The pairing code has no column on purpose: it is never stored.
 */
import type { Migration } from '../../storage/db.js';

export const edgeCore: Migration = {
  version: 1,
  name: 'edge-core',
  up: `
    CREATE TABLE identity (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      private_jwk TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      thumbprint TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    -- Saved before the first register-edge attempt, so a retry after a timeout or power cut replays the same key.
    CREATE TABLE pending_pairing (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      idempotency_key TEXT NOT NULL,
      cloud_url TEXT NOT NULL,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE registration (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      edge_uuid TEXT NOT NULL,
      edge_id TEXT NOT NULL,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL,
      cloud_url TEXT NOT NULL,
      hardware_id TEXT NOT NULL,
      edge_token TEXT NOT NULL,
      token_iat INTEGER NOT NULL,
      token_exp INTEGER NOT NULL,
      config TEXT NOT NULL,
      paired_at TEXT NOT NULL,
      token_refreshed_at TEXT,
      revoked_at TEXT
    );
    -- The running config: the register-edge config (version 0) with every applied P/config push on top.
    CREATE TABLE runtime_config (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL,
      config TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE TABLE config_history (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      version INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
      config TEXT,
      error TEXT,
      received_at TEXT NOT NULL
    );
    CREATE TABLE command_results (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('executing', 'done')),
      result TEXT,
      received_at TEXT NOT NULL,
      finished_at TEXT
    );
    CREATE TABLE kv (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    -- Written by the running daemon, read by 'status' (another process): never holds a secret.
    CREATE TABLE status_snapshot (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      snapshot TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
  `,
};
