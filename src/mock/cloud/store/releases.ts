/** Uploaded releases. The bundle itself is a file (`releaseBundlePath`); the row is what lists and campaigns need. */
import type { ReleaseKind, ReleaseView } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface ReleaseRow {
  id: string;
  kind: ReleaseKind;
  name: string;
  version: string;
  arch: string;
  manifestJws: string;
  kid: string;
  size: number;
  sha256: string;
  bundleSize: number;
  bundleSha256: string;
  createdAt: string;
  notes: string | null;
  uploadedAt: string;
}

const COLUMNS = `id, kind, name, version, arch, manifest_jws AS manifestJws, kid, size, sha256, bundle_size AS bundleSize,
  bundle_sha256 AS bundleSha256, created_at AS createdAt, notes, uploaded_at AS uploadedAt`;

export function findRelease(db: Db, id: string): ReleaseRow | undefined {
  return db.prepare<ReleaseRow>(`SELECT ${COLUMNS} FROM releases WHERE id = ?`).get(id);
}

export function findReleaseByIdentity(
  db: Db,
  identity: { name: string; version: string; arch: string },
): ReleaseRow | undefined {
  return db
    .prepare<ReleaseRow>(`SELECT ${COLUMNS} FROM releases WHERE name = ? AND version = ? AND arch = ?`)
    .get(identity.name, identity.version, identity.arch);
}

export function listReleases(db: Db, filter: { kind?: string; arch?: string; name?: string }): ReleaseRow[] {
  return db
    .prepare<ReleaseRow>(
      `SELECT ${COLUMNS} FROM releases
       WHERE (@kind IS NULL OR kind = @kind) AND (@arch IS NULL OR arch = @arch) AND (@name IS NULL OR name = @name)
       ORDER BY uploaded_at DESC, rowid DESC`,
    )
    .all({ kind: filter.kind ?? null, arch: filter.arch ?? null, name: filter.name ?? null });
}

export function insertRelease(db: Db, row: ReleaseRow): void {
  db.prepare(
    `INSERT INTO releases (id, kind, name, version, arch, manifest_jws, kid, size, sha256, bundle_size, bundle_sha256,
       created_at, notes, uploaded_at)
     VALUES (@id, @kind, @name, @version, @arch, @manifestJws, @kid, @size, @sha256, @bundleSize, @bundleSha256,
       @createdAt, @notes, @uploadedAt)`,
  ).run({ ...row });
}

export function toReleaseView(row: ReleaseRow): ReleaseView {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    version: row.version,
    arch: row.arch,
    size: row.size,
    sha256: row.sha256,
    createdAt: row.createdAt,
    uploadedAt: row.uploadedAt,
    ...(row.notes !== null ? { notes: row.notes } : {}),
    kid: row.kid,
  };
}
