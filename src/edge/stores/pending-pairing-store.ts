/**
 * The pending pairing (balena's provision() pattern): Idempotency-Key and request body saved before the first
 * attempt. The pairing code is deliberately absent: it stays in memory only.
 */
import type { Db } from '../../storage/index.js';

export interface PendingPairing {
  idempotencyKey: string;
  cloudUrl: string;
  orgId: string;
  siteId: string;
  body: string;
  createdAt: string;
}

interface Row {
  idempotency_key: string;
  cloud_url: string;
  org_id: string;
  site_id: string;
  body: string;
  created_at: string;
}

export class PendingPairingStore {
  constructor(private readonly db: Db) {}

  get(): PendingPairing | null {
    const row = this.db
      .prepare<Row>(
        'SELECT idempotency_key, cloud_url, org_id, site_id, body, created_at FROM pending_pairing WHERE id = 1',
      )
      .get();
    return row
      ? {
          idempotencyKey: row.idempotency_key,
          cloudUrl: row.cloud_url,
          orgId: row.org_id,
          siteId: row.site_id,
          body: row.body,
          createdAt: row.created_at,
        }
      : null;
  }

  put(pending: PendingPairing): void {
    this.db
      .prepare(
        'INSERT INTO pending_pairing (id, idempotency_key, cloud_url, org_id, site_id, body, created_at) VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET idempotency_key = excluded.idempotency_key, cloud_url = excluded.cloud_url, org_id = excluded.org_id, site_id = excluded.site_id, body = excluded.body, created_at = excluded.created_at',
      )
      .run(pending.idempotencyKey, pending.cloudUrl, pending.orgId, pending.siteId, pending.body, pending.createdAt);
  }

  delete(): void {
    this.db.prepare('DELETE FROM pending_pairing').run();
  }
}
