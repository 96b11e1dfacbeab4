/**
 * What the site server itself decides about edges (issue 15): the stored answers to `POST register` by
 * Idempotency-Key, and, air-gapped, the licence bindings (one per key, for good), the registrations it issued
 * tokens for, the assertion ids already used for refresh, and which bindings the cloud has been told about.
 * Every change of state is one transaction.
 */
import type { LicenceBindingReport, PublicJwk } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface StoredAnswer {
  requestHash: string;
  status: number;
  body: unknown;
}

export interface SiteRegistration {
  uuid: string;
  edgeId: string;
  hardwareId: string;
  publicJwk: PublicJwk;
  registeredAt: string;
  revokedAt?: string;
}

export interface LicenceBindingView {
  licenceKey: string;
  edgeId: string;
  edgeUuid: string;
  hardwareId: string;
  boundAt: string;
  /** When the cloud answered the report of this binding, and what it said; null until then. */
  reportedAt: string | null;
  reportStatus: 'recorded' | 'known' | 'conflict' | null;
}

interface RegistrationRow {
  uuid: string;
  edge_id: string;
  hardware_id: string;
  public_jwk_json: string;
  registered_at: string;
  revoked_at: string | null;
}
interface BindingRow {
  licence_key: string;
  edge_uuid: string;
  edge_id: string;
  hardware_id: string;
  bound_at: string;
  reported_at: string | null;
  report_status: LicenceBindingView['reportStatus'];
}

const toRegistration = (row: RegistrationRow): SiteRegistration => ({
  uuid: row.uuid,
  edgeId: row.edge_id,
  hardwareId: row.hardware_id,
  publicJwk: JSON.parse(row.public_jwk_json) as PublicJwk,
  registeredAt: row.registered_at,
  ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
});
const toBinding = (row: BindingRow): LicenceBindingView => ({
  licenceKey: row.licence_key,
  edgeId: row.edge_id,
  edgeUuid: row.edge_uuid,
  hardwareId: row.hardware_id,
  boundAt: row.bound_at,
  reportedAt: row.reported_at,
  reportStatus: row.report_status,
});

export class SiteRegistry {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  answer(idempotencyKey: string): StoredAnswer | undefined {
    const row = this.db
      .prepare<{ request_hash: string; status: number; body_json: string }>(
        'SELECT request_hash, status, body_json FROM register_answers WHERE idempotency_key = ?',
      )
      .get(idempotencyKey);
    return row ? { requestHash: row.request_hash, status: row.status, body: JSON.parse(row.body_json) } : undefined;
  }

  saveAnswer(idempotencyKey: string, answer: StoredAnswer, nowIso: string): void {
    this.db
      .prepare(
        'INSERT INTO register_answers (idempotency_key, request_hash, status, body_json, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(idempotencyKey, answer.requestHash, answer.status, JSON.stringify(answer.body), nowIso);
  }

  binding(licenceKey: string): LicenceBindingView | undefined {
    const row = this.db.prepare<BindingRow>('SELECT * FROM licence_bindings WHERE licence_key = ?').get(licenceKey);
    return row ? toBinding(row) : undefined;
  }

  bindings(): LicenceBindingView[] {
    return this.db
      .prepare<BindingRow>('SELECT * FROM licence_bindings ORDER BY bound_at, licence_key')
      .all()
      .map(toBinding);
  }

  registration(uuid: string): SiteRegistration | undefined {
    const row = this.db.prepare<RegistrationRow>('SELECT * FROM site_registrations WHERE uuid = ?').get(uuid);
    return row ? toRegistration(row) : undefined;
  }

  /** The edge id's live registration issued here, if any. */
  activeRegistration(edgeId: string): SiteRegistration | undefined {
    const row = this.db
      .prepare<RegistrationRow>(
        'SELECT * FROM site_registrations WHERE edge_id = ? AND revoked_at IS NULL ORDER BY registered_at DESC LIMIT 1',
      )
      .get(edgeId);
    return row ? toRegistration(row) : undefined;
  }

  /**
   * A new registration bound to `licenceKey` (call inside a transaction, after the checks): the hardware's and
   * the edge id's earlier registrations here are revoked, as the cloud's re-pair does, and the binding moves to
   * the new registration (same hardware: that is a re-registration, not a second binding).
   */
  register(licenceKey: string, registration: Omit<SiteRegistration, 'revokedAt'>): void {
    this.db
      .prepare(
        'UPDATE site_registrations SET revoked_at = ? WHERE revoked_at IS NULL AND (hardware_id = ? OR edge_id = ?)',
      )
      .run(registration.registeredAt, registration.hardwareId, registration.edgeId);
    this.db
      .prepare(
        'INSERT INTO site_registrations (uuid, edge_id, hardware_id, public_jwk_json, registered_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        registration.uuid,
        registration.edgeId,
        registration.hardwareId,
        JSON.stringify(registration.publicJwk),
        registration.registeredAt,
      );
    // A re-registration is a new edge uuid the cloud has not heard of: report it again.
    this.db
      .prepare(
        `INSERT INTO licence_bindings (licence_key, edge_uuid, edge_id, hardware_id, bound_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (licence_key) DO UPDATE SET edge_uuid = excluded.edge_uuid, edge_id = excluded.edge_id,
           bound_at = excluded.bound_at, reported_at = NULL, report_status = NULL`,
      )
      .run(licenceKey, registration.uuid, registration.edgeId, registration.hardwareId, registration.registeredAt);
  }

  /** Records a device assertion's `jti` once; false when it was used before. Expired records are dropped. */
  useAssertion(edgeUuid: string, jti: string, exp: number, nowSeconds: number): boolean {
    this.db.prepare('DELETE FROM used_assertions WHERE exp < ?').run(nowSeconds - 120);
    const inserted = this.db
      .prepare('INSERT OR IGNORE INTO used_assertions (edge_uuid, jti, exp) VALUES (?, ?, ?)')
      .run(edgeUuid, jti, exp);
    return inserted.changes === 1;
  }

  /** Bindings the cloud has not answered for yet, with what the report needs, oldest first. */
  unreported(limit: number): LicenceBindingReport['bindings'] {
    return this.db
      .prepare<BindingRow & { public_jwk_json: string }>(
        `SELECT b.*, r.public_jwk_json FROM licence_bindings b JOIN site_registrations r ON r.uuid = b.edge_uuid
         WHERE b.reported_at IS NULL ORDER BY b.bound_at, b.licence_key LIMIT ?`,
      )
      .all(limit)
      .map((row) => ({
        licenceKey: row.licence_key,
        edgeId: row.edge_id,
        edgeUuid: row.edge_uuid,
        hardwareId: row.hardware_id,
        publicKey: JSON.parse(row.public_jwk_json) as PublicJwk,
        boundAt: row.bound_at,
      }));
  }

  /** The cloud's answer for one reported binding; ignored if the key was re-bound since (that one is owed anew). */
  markReported(
    licenceKey: string,
    edgeUuid: string,
    status: NonNullable<LicenceBindingView['reportStatus']>,
    nowIso: string,
  ): void {
    this.db
      .prepare('UPDATE licence_bindings SET reported_at = ?, report_status = ? WHERE licence_key = ? AND edge_uuid = ?')
      .run(nowIso, status, licenceKey, edgeUuid);
  }
}
