/** Sites of an organisation. A deleted site keeps its row (`deleted_at`) but is invisible to every route. */
import type { z } from 'zod';
import type { Location, Site } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

type SiteStatus = Site['status'];
export interface SiteRow {
  id: string;
  orgId: string;
  name: string;
  slug: string;
  timezone: string;
  location: z.infer<typeof Location> | undefined;
  status: SiteStatus;
  createdAt: string;
}
interface RawSiteRow extends Omit<SiteRow, 'location'> {
  location: string | null;
}

const COLUMNS = 'id, org_id AS orgId, name, slug, timezone, location, status, created_at AS createdAt';
const fromRaw = (row: RawSiteRow): SiteRow => ({
  ...row,
  location: row.location ? JSON.parse(row.location) : undefined,
});

export function findLiveSite(db: Db, orgId: string, siteId: string): SiteRow | undefined {
  const row = db
    .prepare<RawSiteRow>(`SELECT ${COLUMNS} FROM sites WHERE id = ? AND org_id = ? AND deleted_at IS NULL`)
    .get(siteId, orgId);
  return row && fromRaw(row);
}

export function listLiveSites(db: Db, orgId: string): SiteRow[] {
  return db
    .prepare<RawSiteRow>(
      `SELECT ${COLUMNS} FROM sites WHERE org_id = ? AND deleted_at IS NULL ORDER BY created_at, slug`,
    )
    .all(orgId)
    .map(fromRaw);
}

export function siteSlugTaken(db: Db, orgId: string, slug: string): boolean {
  return (
    db.prepare('SELECT 1 FROM sites WHERE org_id = ? AND slug = ? AND deleted_at IS NULL').get(orgId, slug) !==
    undefined
  );
}

export function insertSite(db: Db, site: SiteRow): void {
  db.prepare(
    'INSERT INTO sites (id, org_id, name, slug, timezone, location, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    site.id,
    site.orgId,
    site.name,
    site.slug,
    site.timezone,
    site.location ? JSON.stringify(site.location) : null,
    site.status,
    site.createdAt,
  );
}

export function updateSiteMetadata(
  db: Db,
  siteId: string,
  changes: { name?: string; timezone?: string; location?: SiteRow['location'] },
): void {
  if (changes.name !== undefined) db.prepare('UPDATE sites SET name = ? WHERE id = ?').run(changes.name, siteId);
  if (changes.timezone !== undefined)
    db.prepare('UPDATE sites SET timezone = ? WHERE id = ?').run(changes.timezone, siteId);
  if (changes.location !== undefined)
    db.prepare('UPDATE sites SET location = ? WHERE id = ?').run(JSON.stringify(changes.location), siteId);
}

export function setSiteStatus(db: Db, siteId: string, status: SiteStatus): void {
  db.prepare('UPDATE sites SET status = ? WHERE id = ?').run(status, siteId);
}

export function markSiteDeleted(db: Db, siteId: string, at: string): void {
  db.prepare('UPDATE sites SET deleted_at = ? WHERE id = ?').run(at, siteId);
}
