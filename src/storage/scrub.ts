/**
 * Deleting a row does not remove its bytes: they stay in free pages of the file and in old frames of the WAL,
 * where anyone who can read the files (a backup, a disk image) can carve them out. Secrets are therefore deleted
 * with `secure_delete` on (deleted cells zeroed), then the WAL is checkpointed and truncated, the file rebuilt
 * (VACUUM drops every free page) and the WAL truncated again.
 */
import type { Db } from './db.js';

export interface Scrubbed<T> {
  result: T;
  /** Why the deleted bytes may still be in the file or its WAL (another reader, no space to rebuild); else absent. */
  notScrubbed?: string;
}

/**
 * Runs `remove` (the caller's transaction), then scrubs. The deletion itself always stands once `remove` returns;
 * a scrub that cannot finish is reported, not thrown, so the caller can say so and try again later.
 */
export function deleteSecurely<T>(db: Db, remove: () => T): Scrubbed<T> {
  db.exec('PRAGMA secure_delete = ON');
  let result: T;
  try {
    result = remove();
  } finally {
    db.exec('PRAGMA secure_delete = FAST');
  }
  try {
    const first = truncateWal(db);
    db.exec('VACUUM');
    if (first && truncateWal(db)) return { result };
    return { result, notScrubbed: 'another process reads the database, so its WAL could not be emptied' };
  } catch (error) {
    return { result, notScrubbed: (error as Error).message };
  }
}

/** Checkpoints every WAL frame into the file and truncates the WAL; false when a reader blocked part of it. */
function truncateWal(db: Db): boolean {
  const row = db.prepare<{ busy: number }>('PRAGMA wal_checkpoint(TRUNCATE)').get();
  return row === undefined || Number(row.busy) === 0;
}
