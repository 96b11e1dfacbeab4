/** Persistence of the cloud's signing key, so tokens issued before a restart still verify after it. */
import type { Db } from '../../../storage/index.js';

export interface StoredSigningKey {
  kid: string;
  privateJwk: string;
  publicJwk: string;
}

export function loadSigningKey(db: Db): StoredSigningKey | undefined {
  return db
    .prepare<StoredSigningKey>(
      'SELECT kid, private_jwk AS privateJwk, public_jwk AS publicJwk FROM signing_keys ORDER BY created_at LIMIT 1',
    )
    .get();
}

export function saveSigningKey(db: Db, key: StoredSigningKey, createdAt: string): void {
  db.transaction(() => {
    db.prepare('INSERT INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)').run(
      key.kid,
      key.privateJwk,
      key.publicJwk,
      createdAt,
    );
  });
}
