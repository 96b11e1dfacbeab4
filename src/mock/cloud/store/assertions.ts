/** Device-assertion `jti`s seen so far, per edge registration, kept until the assertion would have expired. */
import type { Db } from '../../../storage/index.js';

/** Records the jti; false when it was already used (a replay). */
export function recordAssertion(db: Db, edgeUuid: string, jti: string, expiresAt: number, nowSeconds: number): boolean {
  db.prepare('DELETE FROM used_assertions WHERE expires_at < ?').run(nowSeconds - 3600);
  return (
    db
      .prepare('INSERT OR IGNORE INTO used_assertions (jti, edge_uuid, expires_at) VALUES (?, ?, ?)')
      .run(jti, edgeUuid, expiresAt).changes === 1
  );
}
