/** Users and their organisation memberships. Roles are read from here on every request, not from the token. */
import type { Role } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface UserRow {
  id: string;
  email: string;
  passwordHash: string;
  platformAdmin: boolean;
}
export interface MembershipRow {
  orgId: string;
  slug: string;
  role: Role;
}

const SELECT_USER = 'SELECT id, email, password_hash AS passwordHash, platform_admin AS platformAdmin FROM users';
type RawUserRow = Omit<UserRow, 'platformAdmin'> & { platformAdmin: number };
const fromRaw = (row: RawUserRow | undefined): UserRow | undefined =>
  row && { ...row, platformAdmin: row.platformAdmin === 1 };

export function findUserByEmail(db: Db, email: string): UserRow | undefined {
  return fromRaw(db.prepare<RawUserRow>(`${SELECT_USER} WHERE email = ? COLLATE NOCASE`).get(email));
}

export function findUserById(db: Db, id: string): UserRow | undefined {
  return fromRaw(db.prepare<RawUserRow>(`${SELECT_USER} WHERE id = ?`).get(id));
}

export function insertUser(db: Db, user: UserRow): void {
  db.prepare('INSERT INTO users (id, email, password_hash, platform_admin) VALUES (?, ?, ?, ?)').run(
    user.id,
    user.email,
    user.passwordHash,
    user.platformAdmin ? 1 : 0,
  );
}

export function countUsers(db: Db): number {
  return db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM users').get()?.n ?? 0;
}

export function membershipsOf(db: Db, userId: string): MembershipRow[] {
  return db
    .prepare<MembershipRow>(
      'SELECT m.org_id AS orgId, o.slug AS slug, m.role AS role FROM memberships m JOIN organisations o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY o.created_at, o.slug',
    )
    .all(userId);
}

export function roleIn(db: Db, userId: string, orgId: string): Role | undefined {
  return db.prepare<{ role: Role }>('SELECT role FROM memberships WHERE user_id = ? AND org_id = ?').get(userId, orgId)
    ?.role;
}

export function insertMembership(db: Db, orgId: string, userId: string, role: Role): void {
  db.prepare('INSERT INTO memberships (org_id, user_id, role) VALUES (?, ?, ?)').run(orgId, userId, role);
}
