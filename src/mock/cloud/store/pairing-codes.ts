/** Pairing codes, stored only as SHA-256 of their normalised form: a leaked database yields no usable code. */
import { createHash } from 'node:crypto';
import type { PairingCodePurpose } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface PairingCodeRow {
  codeHash: string;
  orgId: string;
  siteId: string;
  edgeId: string | null;
  purpose: PairingCodePurpose;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

/** `normalized` must come from `normalizePairingCode`, so `7kq4-mx29` and `7KQ4MX29` hash alike. */
export const hashPairingCode = (normalized: string): string => createHash('sha256').update(normalized).digest('hex');

export function findPairingCode(db: Db, codeHash: string): PairingCodeRow | undefined {
  return db
    .prepare<PairingCodeRow>(
      'SELECT code_hash AS codeHash, org_id AS orgId, site_id AS siteId, edge_id AS edgeId, purpose, created_at AS createdAt, expires_at AS expiresAt, used_at AS usedAt FROM pairing_codes WHERE code_hash = ?',
    )
    .get(codeHash);
}

export function insertPairingCode(db: Db, row: Omit<PairingCodeRow, 'usedAt'>): void {
  db.prepare(
    'INSERT INTO pairing_codes (code_hash, org_id, site_id, edge_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(row.codeHash, row.orgId, row.siteId, row.edgeId, row.purpose, row.createdAt, row.expiresAt);
}

export function markPairingCodeUsed(db: Db, codeHash: string, at: string): void {
  db.prepare('UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?').run(at, codeHash);
}

/** A deleted site's unused codes die with it. */
export function expireSitePairingCodes(db: Db, siteId: string, at: string): void {
  db.prepare('UPDATE pairing_codes SET expires_at = ? WHERE site_id = ? AND used_at IS NULL AND expires_at > ?').run(
    at,
    siteId,
    at,
  );
}
