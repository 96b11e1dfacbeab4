/** Licence keys are burned to the first hardware that uses them. Any well-formed key is accepted the first time. */
import type { Db } from '../../../storage/index.js';

export function licenceHolder(db: Db, licenceKey: string): string | undefined {
  return db
    .prepare<{ hardwareId: string }>('SELECT hardware_id AS hardwareId FROM licences WHERE licence_key = ?')
    .get(licenceKey)?.hardwareId;
}

export function bindLicence(db: Db, licenceKey: string, hardwareId: string, at: string): void {
  db.prepare('INSERT OR IGNORE INTO licences (licence_key, hardware_id, bound_at) VALUES (?, ?, ?)').run(
    licenceKey,
    hardwareId,
    at,
  );
}
