/** Organisations. Slugs are unique across the cloud (they name the tenant). */
import type { Db } from '../../../storage/index.js';

export interface OrganisationRow {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  createdAt: string;
}

const COLUMNS = 'id, name, slug, timezone, created_at AS createdAt';

export function findOrganisation(db: Db, id: string): OrganisationRow | undefined {
  return db.prepare<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations WHERE id = ?`).get(id);
}

export function organisationSlugTaken(db: Db, slug: string): boolean {
  return db.prepare('SELECT 1 FROM organisations WHERE slug = ?').get(slug) !== undefined;
}

export function insertOrganisation(db: Db, org: OrganisationRow): void {
  db.prepare('INSERT INTO organisations (id, name, slug, timezone, created_at) VALUES (?, ?, ?, ?, ?)').run(
    org.id,
    org.name,
    org.slug,
    org.timezone,
    org.createdAt,
  );
}

export function listOrganisations(db: Db): OrganisationRow[] {
  return db.prepare<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations ORDER BY created_at, slug`).all();
}
