/**
 * The release keys the device trusts beyond the ones built into its binary (issue 13): the latest key-rotation
 * document it verified, kept whole (the signed JWS) so it can be shown and checked again, with the set it holds.
 * One row: a newer document replaces it in one transaction. identity.db's version 2 (file numbers count files in
 * this folder, versions count each database's own steps).
 */
import type { Migration } from '../../storage/db.js';

export const releaseKeys: Migration = {
  version: 2,
  name: 'release-keys',
  up: `
    CREATE TABLE release_keys (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      sequence INTEGER NOT NULL CHECK (sequence >= 1),
      keys TEXT NOT NULL,
      document TEXT NOT NULL,
      applied_at TEXT NOT NULL
    );
  `,
};
