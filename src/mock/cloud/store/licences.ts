/**
 * Edge licences: issued to an organisation, burned to the first hardware that registers with them (CONTRACT §3,
 * issue 15). A binding made offline by a site server arrives later in a report; one that disagrees with the
 * cloud's binding is kept as a conflict for an admin, never applied.
 */
import type { LicenceView } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export type LicenceBindingVia = 'cloud' | 'site';

export interface LicenceBindingRow {
  edgeId: string;
  siteId: string;
  hardwareId: string;
  boundAt: string;
  via: LicenceBindingVia;
}

export interface LicenceRow {
  key: string;
  orgId: string;
  binding: LicenceBindingRow | null;
}

interface RawLicenceRow {
  key: string;
  orgId: string;
  hardwareId: string | null;
  edgeId: string | null;
  siteId: string | null;
  boundAt: string | null;
  via: LicenceBindingVia | null;
}

const COLUMNS =
  'licence_key AS key, org_id AS orgId, hardware_id AS hardwareId, edge_id AS edgeId, site_id AS siteId, bound_at AS boundAt, bound_via AS via';

function fromRaw(row: RawLicenceRow): LicenceRow {
  const { key, orgId, hardwareId, edgeId, siteId, boundAt, via } = row;
  const bound = hardwareId !== null && edgeId !== null && siteId !== null && boundAt !== null && via !== null;
  return { key, orgId, binding: bound ? { edgeId, siteId, hardwareId, boundAt, via } : null };
}

export function findLicence(db: Db, key: string): LicenceRow | undefined {
  const row = db.prepare<RawLicenceRow>(`SELECT ${COLUMNS} FROM organisation_licences WHERE licence_key = ?`).get(key);
  return row && fromRaw(row);
}

export function listLicences(db: Db, orgId: string): LicenceRow[] {
  return db
    .prepare<RawLicenceRow>(`SELECT ${COLUMNS} FROM organisation_licences WHERE org_id = ? ORDER BY licence_key`)
    .all(orgId)
    .map(fromRaw);
}

/** Adds licences to an organisation; a key that exists already (in any organisation) is left as it is. */
export function insertLicences(db: Db, orgId: string, keys: readonly string[], at: string): void {
  const insert = db.prepare(
    'INSERT OR IGNORE INTO organisation_licences (licence_key, org_id, created_at) VALUES (?, ?, ?)',
  );
  for (const key of keys) insert.run(key, orgId, at);
}

/** Binds a licence, or moves its binding to the same hardware's newest registration (a re-pair keeps its key). */
export function bindLicence(db: Db, key: string, binding: LicenceBindingRow): void {
  db.prepare(
    `UPDATE organisation_licences SET hardware_id = @hardwareId, edge_id = @edgeId, site_id = @siteId,
       bound_at = COALESCE(bound_at, @boundAt), bound_via = COALESCE(bound_via, @via)
     WHERE licence_key = @key AND (hardware_id IS NULL OR hardware_id = @hardwareId)`,
  ).run({ key, ...binding });
}

/** Keeps a reported binding that disagrees with the cloud's; the same report twice is one conflict. */
export function recordLicenceConflict(db: Db, key: string, binding: LicenceBindingRow, reportedAt: string): void {
  db.prepare(
    `INSERT OR IGNORE INTO licence_conflicts (licence_key, edge_id, site_id, hardware_id, bound_at, reported_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(key, binding.edgeId, binding.siteId, binding.hardwareId, binding.boundAt, reportedAt);
}

function conflictsByKey(db: Db, orgId: string): Map<string, LicenceBindingRow[]> {
  const rows = db
    .prepare<LicenceBindingRow & { key: string }>(
      `SELECT c.licence_key AS key, c.edge_id AS edgeId, c.site_id AS siteId, c.hardware_id AS hardwareId,
              c.bound_at AS boundAt, 'site' AS via
         FROM licence_conflicts c JOIN organisation_licences l ON l.licence_key = c.licence_key
        WHERE l.org_id = ? ORDER BY c.reported_at, c.rowid`,
    )
    .all(orgId);
  const byKey = new Map<string, LicenceBindingRow[]>();
  for (const { key, ...binding } of rows) byKey.set(key, [...(byKey.get(key) ?? []), binding]);
  return byKey;
}

/** The organisation's licences as `GET …/licences` shows them: each with its binding and any conflicts. */
export function licenceViews(db: Db, orgId: string): LicenceView[] {
  const conflicts = conflictsByKey(db, orgId);
  return listLicences(db, orgId).map((licence) => ({
    key: licence.key,
    binding: licence.binding,
    conflicts: conflicts.get(licence.key) ?? [],
  }));
}
