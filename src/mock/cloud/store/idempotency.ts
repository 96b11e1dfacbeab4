/**
 * Stored register-edge outcomes keyed by Idempotency-Key. The response (including its edge token) is kept so a
 * retry after a lost response gets the very same 201; records older than the window are ignored and pruned.
 */
import type { Db } from '../../../storage/index.js';

export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

export interface IdempotencyRow {
  key: string;
  fingerprint: string;
  status: number;
  response: string;
  createdAt: string;
}

export function findIdempotencyRecord(db: Db, key: string, nowMs: number): IdempotencyRow | undefined {
  const row = db
    .prepare<IdempotencyRow>(
      'SELECT key, fingerprint, status, response, created_at AS createdAt FROM idempotency WHERE key = ?',
    )
    .get(key);
  return row && nowMs - Date.parse(row.createdAt) < IDEMPOTENCY_WINDOW_MS ? row : undefined;
}

export function saveIdempotencyRecord(db: Db, row: IdempotencyRow): void {
  // REPLACE: an expired record with the same key is simply superseded.
  db.prepare(
    'INSERT OR REPLACE INTO idempotency (key, fingerprint, status, response, created_at) VALUES (?, ?, ?, ?, ?)',
  ).run(row.key, row.fingerprint, row.status, row.response, row.createdAt);
}
