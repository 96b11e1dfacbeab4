/**
 * Edge registrations. Each pairing creates a new row with a new uuid (the token's `sub`); re-pairing the same
 * hardware revokes the old row, so every token issued to the old registration is refused everywhere by its
 * `sub` alone. That row-per-registration is how the mock tracks "token generations".
 */
import type { EdgeSummary, PublicJwk } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface EdgeRow {
  id: string;
  orgId: string;
  siteId: string;
  edgeId: string;
  hardwareId: string;
  version: string;
  hostname: string;
  publicJwk: PublicJwk;
  registeredAt: string;
  revokedAt: string | null;
}
interface RawEdgeRow extends Omit<EdgeRow, 'publicJwk'> {
  publicJwk: string;
}

const COLUMNS =
  'id, org_id AS orgId, site_id AS siteId, edge_id AS edgeId, hardware_id AS hardwareId, version, hostname, public_jwk AS publicJwk, registered_at AS registeredAt, revoked_at AS revokedAt';
const fromRaw = (row: RawEdgeRow): EdgeRow => ({ ...row, publicJwk: JSON.parse(row.publicJwk) as PublicJwk });

export function toEdgeSummary(row: EdgeRow): EdgeSummary {
  return {
    id: row.id,
    edgeId: row.edgeId,
    hardwareId: row.hardwareId,
    version: row.version,
    status: row.revokedAt ? 'revoked' : 'active',
    registeredAt: row.registeredAt,
    ...(row.revokedAt ? { revokedAt: row.revokedAt } : {}),
  };
}

export function listSiteEdges(db: Db, siteId: string): EdgeRow[] {
  return db
    .prepare<RawEdgeRow>(`SELECT ${COLUMNS} FROM edges WHERE site_id = ? ORDER BY registered_at, rowid`)
    .all(siteId)
    .map(fromRaw);
}

export function countActiveEdges(db: Db, siteId: string): number {
  return (
    db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM edges WHERE site_id = ? AND revoked_at IS NULL').get(siteId)
      ?.n ?? 0
  );
}

export function findActiveEdgeByEdgeId(db: Db, siteId: string, edgeId: string): EdgeRow | undefined {
  const row = db
    .prepare<RawEdgeRow>(`SELECT ${COLUMNS} FROM edges WHERE site_id = ? AND edge_id = ? AND revoked_at IS NULL`)
    .get(siteId, edgeId);
  return row && fromRaw(row);
}

/** The newest registration of an edge id (active or not), for refresh: a revoked one answers EDGE_REVOKED. */
export function findLatestEdgeByEdgeId(db: Db, siteId: string, edgeId: string): EdgeRow | undefined {
  const row = db
    .prepare<RawEdgeRow>(
      `SELECT ${COLUMNS} FROM edges WHERE site_id = ? AND edge_id = ? ORDER BY registered_at DESC, rowid DESC LIMIT 1`,
    )
    .get(siteId, edgeId);
  return row && fromRaw(row);
}

export function findEdgeByUuid(db: Db, id: string): EdgeRow | undefined {
  const row = db.prepare<RawEdgeRow>(`SELECT ${COLUMNS} FROM edges WHERE id = ?`).get(id);
  return row && fromRaw(row);
}

export function insertEdge(db: Db, row: EdgeRow): void {
  db.prepare(
    'INSERT INTO edges (id, org_id, site_id, edge_id, hardware_id, version, hostname, public_jwk, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    row.id,
    row.orgId,
    row.siteId,
    row.edgeId,
    row.hardwareId,
    row.version,
    row.hostname,
    JSON.stringify(row.publicJwk),
    row.registeredAt,
  );
}

export function revokeEdge(db: Db, id: string, at: string, reason: string): void {
  db.prepare('UPDATE edges SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL').run(
    at,
    reason,
    id,
  );
}

/** Revokes the site's active registrations held by this hardware (a device reset pairs again). */
export function revokeHardwareInSite(db: Db, siteId: string, hardwareId: string, at: string): void {
  db.prepare(
    "UPDATE edges SET revoked_at = ?, revoked_reason = 're-paired' WHERE site_id = ? AND hardware_id = ? AND revoked_at IS NULL",
  ).run(at, siteId, hardwareId);
}

export function revokeSiteEdges(db: Db, siteId: string, at: string): void {
  db.prepare(
    "UPDATE edges SET revoked_at = ?, revoked_reason = 'site deleted' WHERE site_id = ? AND revoked_at IS NULL",
  ).run(at, siteId);
}
