/**
 * Licences belong to an organisation (issue 15): a key the cloud never issued is refused instead of being bound on
 * first use. A binding names the edge, site and hardware and how it was made (`cloud`: register-edge, `site`: bound
 * offline by a site server and reported afterwards). A report that disagrees with the binding is kept in
 * `licence_conflicts` for an admin to settle, never silently accepted. The site server's signing key (register-server
 * `signingKey`) is what offline licence files name.
 *
 * Keys bound before this migration had no organisation; they take the organisation, site and edge id of the newest
 * registration of the hardware they were bound to (a key whose hardware never registered cannot have been bound).
 */
import type { Migration } from '../../../storage/db.js';

export const licences: Migration = {
  version: 4,
  name: 'licences',
  up: `
    CREATE TABLE organisation_licences (
      licence_key TEXT PRIMARY KEY,
      org_id TEXT NOT NULL REFERENCES organisations(id),
      created_at TEXT NOT NULL,
      -- The binding: all NULL while the licence is free.
      hardware_id TEXT,
      edge_id TEXT,
      site_id TEXT REFERENCES sites(id),
      bound_at TEXT,
      bound_via TEXT CHECK (bound_via IN ('cloud', 'site')),
      CHECK ((hardware_id IS NULL) = (bound_at IS NULL))
    );
    INSERT INTO organisation_licences
      (licence_key, org_id, created_at, hardware_id, edge_id, site_id, bound_at, bound_via)
    SELECT l.licence_key, e.org_id, l.bound_at, l.hardware_id, e.edge_id, e.site_id, l.bound_at, 'cloud'
      FROM licences l
      JOIN edges e ON e.rowid = (
        SELECT rowid FROM edges WHERE hardware_id = l.hardware_id ORDER BY registered_at DESC, rowid DESC LIMIT 1
      );
    DROP TABLE licences;
    CREATE INDEX organisation_licences_org ON organisation_licences (org_id, licence_key);
    CREATE TABLE licence_conflicts (
      licence_key TEXT NOT NULL REFERENCES organisation_licences(licence_key),
      edge_id TEXT NOT NULL,
      site_id TEXT NOT NULL REFERENCES sites(id),
      hardware_id TEXT NOT NULL,
      bound_at TEXT NOT NULL,
      reported_at TEXT NOT NULL,
      -- A repeated report of the same conflicting binding is one conflict.
      PRIMARY KEY (licence_key, site_id, hardware_id, edge_id)
    );
    ALTER TABLE site_servers ADD COLUMN signing_jwk TEXT;
  `,
};
