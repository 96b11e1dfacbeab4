/**
 * Forward-only migrations keyed on SQLite's `user_version`. Each step and its version bump commit in one
 * transaction, so a power cut mid-migration leaves the previous version intact and the step runs again on boot.
 */
import type { Db, Migration } from './db.js';
import { StorageError } from './errors.js';

export function schemaVersion(db: Db): number {
  return db.prepare<{ user_version: number }>('PRAGMA user_version').get()?.user_version ?? 0;
}

export function migrate(db: Db, migrations: readonly Migration[]): { from: number; to: number } {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  ordered.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migrations must be numbered 1..n without gaps; found ${m.version} at position ${i + 1}`);
  });
  const from = schemaVersion(db);
  const latest = ordered.length;
  if (from > latest) {
    throw new StorageError(
      'SCHEMA_TOO_NEW',
      `the database ${db.path} has schema version ${from}, newer than this build knows (${latest}); install the newer version again, or move the file aside to start over`,
    );
  }
  for (const step of ordered.slice(from)) {
    try {
      db.transaction(() => {
        if (typeof step.up === 'string') db.exec(step.up);
        else step.up(db);
        db.exec(`PRAGMA user_version = ${step.version}`);
      });
    } catch (cause) {
      throw new StorageError(
        'MIGRATION_FAILED',
        `migration ${step.version} (${step.name}) failed on ${db.path}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return { from, to: latest };
}
