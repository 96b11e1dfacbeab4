/**
 * Opens an existing database for reading only: no folder or file is created, no mode changed, no migration run,
 * and a damaged file is reported, never moved aside. For tools that must look without touching (the support
 * bundle). SQLite itself may add the empty `-wal`/`-shm` companions of a WAL database that has none (it gives
 * them the database file's owner, also when run as root), which the service reuses as they are.
 */
import { existsSync } from 'node:fs';
import type { Db } from './db.js';
import { StorageError } from './errors.js';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

export async function openDatabaseReadOnly(path: string): Promise<Db> {
  if (!existsSync(path)) throw new StorageError('STATE_DIR_UNUSABLE', `there is no database at ${path}`);
  const db = isBun
    ? (await import('./driver-bun.js')).openBunDriver(path, { readonly: true })
    : (await import('./driver-node.js')).openNodeDriver(path, { readonly: true });
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}
