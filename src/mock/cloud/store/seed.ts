/** Writes a seed into an empty database in one transaction (all of it or none of it). */
import type { Db } from '../../../storage/index.js';
import { hashPassword } from '../passwords.js';
import type { Seed } from '../seed.js';
import { insertLicences } from './licences.js';
import { insertOrganisation } from './organisations.js';
import { countUsers, insertMembership, insertUser } from './users.js';

/** Returns false (and writes nothing) when the database already holds users: a restart keeps its state. */
export function applySeed(db: Db, seed: Seed, nowIso: string): boolean {
  // Hash outside the transaction: scrypt is slow on purpose and the write lock need not wait for it.
  if (countUsers(db) > 0) return false;
  const users = seed.users.map((u) => ({
    id: u.id,
    email: u.email.toLowerCase(),
    passwordHash: hashPassword(u.password),
    platformAdmin: u.platformAdmin ?? false,
  }));
  const idByEmail = new Map(users.map((u) => [u.email, u.id]));
  db.transaction(() => {
    for (const user of users) insertUser(db, user);
    for (const org of seed.organisations) {
      insertOrganisation(db, { id: org.id, name: org.name, slug: org.slug, timezone: org.timezone, createdAt: nowIso });
      for (const member of org.members)
        insertMembership(db, org.id, idByEmail.get(member.email.toLowerCase())!, member.role);
      insertLicences(db, org.id, org.licences ?? [], nowIso);
    }
  });
  return true;
}
