/**
 * The mock cloud's first schema. Rows are never hard-deleted where the contract needs history: a deleted site
 * and a revoked edge keep their rows (with `deleted_at` / `revoked_at`) so lists and token checks can say why.
 */
import type { Migration } from '../../../storage/db.js';

export const initial: Migration = {
  version: 1,
  name: 'initial',
  up: `
    CREATE TABLE signing_keys (
      kid TEXT PRIMARY KEY,
      private_jwk TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE users (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      platform_admin INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE organisations (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      slug TEXT NOT NULL UNIQUE,
      timezone TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE memberships (
      org_id TEXT NOT NULL REFERENCES organisations(id),
      user_id TEXT NOT NULL REFERENCES users(id),
      role TEXT NOT NULL,
      PRIMARY KEY (org_id, user_id)
    );
    CREATE TABLE sites (
      id TEXT PRIMARY KEY,
      org_id TEXT NOT NULL REFERENCES organisations(id),
      name TEXT NOT NULL,
      slug TEXT NOT NULL,
      timezone TEXT NOT NULL,
      location TEXT,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      deleted_at TEXT
    );
    -- A deleted site frees its slug.
    CREATE UNIQUE INDEX sites_live_slug ON sites (org_id, slug) WHERE deleted_at IS NULL;
    CREATE TABLE site_servers (
      site_id TEXT PRIMARY KEY REFERENCES sites(id),
      hardware_id TEXT NOT NULL,
      version TEXT NOT NULL,
      hostname TEXT NOT NULL,
      api_url TEXT NOT NULL,
      mqtt_url TEXT NOT NULL,
      token_jti TEXT NOT NULL,
      registered_at TEXT NOT NULL,
      revoked_at TEXT
    );
    CREATE TABLE pairing_codes (
      code_hash TEXT PRIMARY KEY,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL REFERENCES sites(id),
      edge_id TEXT,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      used_at TEXT
    );
    CREATE TABLE edges (
      id TEXT PRIMARY KEY,
      org_id TEXT NOT NULL,
      site_id TEXT NOT NULL REFERENCES sites(id),
      edge_id TEXT NOT NULL,
      hardware_id TEXT NOT NULL,
      version TEXT NOT NULL,
      hostname TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      registered_at TEXT NOT NULL,
      revoked_at TEXT,
      revoked_reason TEXT
    );
    -- At most one active registration per edge id in a site; revoked rows stay as history.
    CREATE UNIQUE INDEX edges_active_edge_id ON edges (site_id, edge_id) WHERE revoked_at IS NULL;
    CREATE TABLE licences (
      licence_key TEXT PRIMARY KEY,
      hardware_id TEXT NOT NULL,
      bound_at TEXT NOT NULL
    );
    CREATE TABLE idempotency (
      key TEXT PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      status INTEGER NOT NULL,
      response TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE used_assertions (
      jti TEXT NOT NULL,
      edge_uuid TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (edge_uuid, jti)
    );
  `,
};
