/**
 * Credential changes (pairing, token refresh, key reset) must survive a power cut the instant they return:
 * they run as one transaction with `synchronous=FULL`, whatever the connection's default (the outbox may run
 * NORMAL for throughput). The pragma cannot change inside a transaction, so it is set around it.
 */
import type { Db } from '../../storage/index.js';

export function credentialTransaction<T>(db: Db, fn: () => T): T {
  const previous = db.prepare<{ synchronous: number }>('PRAGMA synchronous').get()?.synchronous ?? 2;
  db.exec('PRAGMA synchronous = FULL');
  try {
    return db.transaction(fn);
  } finally {
    db.exec(`PRAGMA synchronous = ${Number(previous)}`);
  }
}
