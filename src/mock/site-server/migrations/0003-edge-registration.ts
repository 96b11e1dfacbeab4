/**
 * Registration through the site server (issue 15): its own signing key and edge-facing TLS identity (made once,
 * so the fingerprint technicians pinned never changes under the same --db), the answers to `POST register` by
 * Idempotency-Key (a replay after a power cut answers the same), and what air-gapped mode needs: one binding per
 * licence key, the registrations it issued tokens for (their device keys, for refresh), the assertion ids already
 * used, and whether each binding has been reported to the cloud.
 */
import type { Migration } from '../../../storage/db.js';

export const edgeRegistration: Migration = {
  version: 3,
  name: 'edge-registration',
  up: `
    CREATE TABLE site_keys (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      signing_jwk_json TEXT NOT NULL,
      tls_cert_pem TEXT,
      tls_key_pem TEXT,
      created_at TEXT NOT NULL
    );
    CREATE TABLE register_answers (
      idempotency_key TEXT PRIMARY KEY,
      request_hash TEXT NOT NULL,
      status INTEGER NOT NULL,
      body_json TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE site_registrations (
      uuid TEXT PRIMARY KEY,
      edge_id TEXT NOT NULL,
      hardware_id TEXT NOT NULL,
      public_jwk_json TEXT NOT NULL,
      registered_at TEXT NOT NULL,
      revoked_at TEXT
    );
    CREATE INDEX site_registrations_edge ON site_registrations (edge_id);
    CREATE TABLE licence_bindings (
      licence_key TEXT PRIMARY KEY,
      edge_uuid TEXT NOT NULL REFERENCES site_registrations (uuid),
      edge_id TEXT NOT NULL,
      hardware_id TEXT NOT NULL,
      bound_at TEXT NOT NULL,
      reported_at TEXT,
      report_status TEXT CHECK (report_status IN ('recorded', 'known', 'conflict'))
    );
    CREATE TABLE used_assertions (
      edge_uuid TEXT NOT NULL,
      jti TEXT NOT NULL,
      exp INTEGER NOT NULL,
      PRIMARY KEY (edge_uuid, jti)
    );
  `,
};
